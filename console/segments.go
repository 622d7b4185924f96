package console

import (
	"net/http"
	"net/url"

	"github.com/kenner-cdp/kenner"
)

func (c *Console) newSegment(w http.ResponseWriter, r *http.Request, rq *request) {
	c.page(w, "segment_new", rq, "segments", "New segment", map[string]string{})
}

func (c *Console) createSegment(w http.ResponseWriter, r *http.Request, rq *request) {
	name, cond := r.PostFormValue("name"), r.PostFormValue("condition")
	err := c.call(r.Context(), rq, "POST", "/v1/segments", map[string]string{"name": name, "condition": cond}, nil)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.page(w, "segment_new", rq, "segments", "New segment", map[string]string{"Name": name, "Condition": cond, "Error": kenner.ErrorMessage(err)})
		return
	}
	http.Redirect(w, r, "/console/segments?created="+url.QueryEscape(name), http.StatusSeeOther)
}

// previewSegment answers the builder's live preview: how many match, and a few of them.
func (c *Console) previewSegment(w http.ResponseWriter, r *http.Request, rq *request) {
	var out struct {
		Count, Evaluated, Errors int64
		ErrorMessages            []string `json:"error_messages"`
		Sample                   []struct {
			ID         string              `json:"id"`
			Identities []kenner.Identifier `json:"identities"`
		} `json:"sample"`
	}
	data := map[string]any{}
	err := c.call(r.Context(), rq, "POST", "/v1/segments/preview", map[string]any{"condition": r.PostFormValue("condition"), "sample": 5}, &out)
	if err != nil {
		data["Error"] = kenner.ErrorMessage(err)
	} else {
		var sample []string
		for _, p := range out.Sample {
			label := p.ID
			for _, id := range p.Identities {
				if id.Kind == kenner.KindEmail || id.Kind == kenner.KindUserID {
					label = id.Value
					break
				}
			}
			sample = append(sample, label)
		}
		data["Count"], data["Evaluated"], data["Errors"], data["Messages"], data["Sample"] = out.Count, out.Evaluated, out.Errors, out.ErrorMessages, sample
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := c.fragments.ExecuteTemplate(w, "preview", data); err != nil {
		c.logger.Error("console preview", "err", err)
	}
}
