package console

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/kenner-cdp/kenner"
)

var aggregateFuncs = []string{kenner.FuncCount, kenner.FuncSum, kenner.FuncAverage, kenner.FuncMin, kenner.FuncMax,
	kenner.FuncFirst, kenner.FuncLast, kenner.FuncMostFrequent, kenner.FuncUnique}

func (c *Console) computedPage(w http.ResponseWriter, r *http.Request, rq *request, notice, errMsg string) {
	var out struct {
		Traits []struct {
			Name, Func, Event, Property string
			Window                      any
		} `json:"computed_traits"`
	}
	if err := c.call(r.Context(), rq, "GET", "/v1/computed-traits", nil, &out); err != nil && errMsg == "" {
		errMsg = kenner.ErrorMessage(err)
	}
	type row struct{ Name, Func, Event, Property, Window string }
	var rows []row
	for _, t := range out.Traits {
		win := ""
		if t.Window != nil {
			win = fmt.Sprint(t.Window)
		}
		rows = append(rows, row{t.Name, t.Func, t.Event, t.Property, win})
	}
	c.page(w, "computed", rq, "computed", "Computed traits", map[string]any{"Traits": rows, "Funcs": aggregateFuncs,
		"CanEdit": rq.user.Role.AtLeast(kenner.RoleMarketer), "Notice": notice, "Error": errMsg})
}

func (c *Console) computedTraits(w http.ResponseWriter, r *http.Request, rq *request) {
	c.computedPage(w, r, rq, "", "")
}

func (c *Console) createComputedTrait(w http.ResponseWriter, r *http.Request, rq *request) {
	def := map[string]any{"name": strings.TrimSpace(r.PostFormValue("name")), "func": r.PostFormValue("func")}
	for _, f := range []string{"event", "property", "window"} {
		if v := strings.TrimSpace(r.PostFormValue(f)); v != "" {
			def[f] = v
		}
	}
	if err := c.call(r.Context(), rq, "POST", "/v1/computed-traits", def, nil); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.computedPage(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	c.computedPage(w, r, rq, fmt.Sprintf("Computed trait %s created: every profile gets it as its events are folded in.", def["name"]), "")
}
