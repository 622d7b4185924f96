package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kenner-cdp/kenner"
)

// slotForm is a slot as the editor shows it: content as the HTML it holds when that is all
// it holds (what a marketer writes), JSON otherwise.
type slotForm struct {
	ID, Name, Default string
	Holdout           float64 // percent
	Personal          bool
	Variants          []variantForm
}

type variantForm struct {
	Name, Condition, Content string
	Priority                 int
}

// contentText shows content for editing.
func contentText(raw json.RawMessage) string {
	var only map[string]json.RawMessage
	if json.Unmarshal(raw, &only) == nil && len(only) == 1 {
		var html string
		if json.Unmarshal(only["html"], &html) == nil {
			return html
		}
	}
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// contentJSON reads what was typed: JSON as it is, anything else as HTML.
func contentJSON(text string) json.RawMessage {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	if (strings.HasPrefix(text, "{") || strings.HasPrefix(text, "[") || strings.HasPrefix(text, `"`)) && json.Valid([]byte(text)) {
		return json.RawMessage(text)
	}
	b, _ := json.Marshal(map[string]string{"html": text})
	return b
}

func formOf(s kenner.Slot) slotForm {
	f := slotForm{ID: s.ID, Name: s.Name, Default: contentText(s.Default), Holdout: s.Holdout * 100, Personal: s.Personal}
	for _, v := range s.Variants {
		f.Variants = append(f.Variants, variantForm{Name: v.Name, Condition: v.Condition, Content: contentText(v.Content), Priority: v.Priority})
	}
	return f
}

func (c *Console) slotsPage(w http.ResponseWriter, r *http.Request, rq *request, edit *slotForm, notice, errMsg string) {
	var out struct {
		Slots []kenner.Slot `json:"slots"`
	}
	if err := c.call(r.Context(), rq, "GET", "/v1/slots", nil, &out); err != nil && errMsg == "" {
		errMsg = kenner.ErrorMessage(err)
	}
	type row struct {
		ID, Name, Holdout, Updated string
		Variants                   []string
	}
	var rows []row
	for _, s := range out.Slots {
		var names []string
		for _, v := range s.Variants {
			names = append(names, v.Name)
		}
		rows = append(rows, row{ID: s.ID, Name: s.Name, Variants: names, Holdout: strconv.FormatFloat(s.Holdout*100, 'f', -1, 64) + "%",
			Updated: shortTime(s.UpdatedAt.Format("2006-01-02T15:04:05Z07:00"))})
	}
	if edit == nil {
		edit = &slotForm{}
	}
	// Room for new variants below the ones the slot has.
	for len(edit.Variants) < 2 || edit.Variants[len(edit.Variants)-1].Name != "" {
		edit.Variants = append(edit.Variants, variantForm{})
	}
	c.page(w, "slots", rq, "personalization", "Personalization", map[string]any{"Slots": rows, "Edit": edit,
		"CanEdit": rq.user.Role.AtLeast(kenner.RoleMarketer), "Notice": notice, "Error": errMsg})
}

func (c *Console) slots(w http.ResponseWriter, r *http.Request, rq *request) {
	c.slotsPage(w, r, rq, nil, "", "")
}

// slot opens a slot in the editor.
func (c *Console) slot(w http.ResponseWriter, r *http.Request, rq *request) {
	var s kenner.Slot
	if err := c.call(r.Context(), rq, "GET", "/v1/slots/"+url.PathEscape(r.PathValue("id")), nil, &s); err != nil {
		c.slotsPage(w, r, rq, nil, "", kenner.ErrorMessage(err))
		return
	}
	f := formOf(s)
	c.slotsPage(w, r, rq, &f, "", "")
}

// saveSlot creates or replaces a slot from the editor.
func (c *Console) saveSlot(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	f := slotForm{ID: r.PostFormValue("id"), Name: strings.TrimSpace(r.PostFormValue("name")), Default: r.PostFormValue("default"),
		Personal: r.PostFormValue("personal") == "on"}
	f.Holdout, _ = strconv.ParseFloat(strings.TrimSpace(r.PostFormValue("holdout")), 64)
	s := kenner.Slot{Name: f.Name, Default: contentJSON(f.Default), Holdout: f.Holdout / 100, Personal: f.Personal, Variants: []kenner.Variant{}}
	names, conds, contents, prios := r.PostForm["v_name"], r.PostForm["v_condition"], r.PostForm["v_content"], r.PostForm["v_priority"]
	for i := range names {
		v := variantForm{Name: strings.TrimSpace(names[i])}
		if i < len(conds) {
			v.Condition = strings.TrimSpace(conds[i])
		}
		if i < len(contents) {
			v.Content = contents[i]
		}
		if i < len(prios) {
			v.Priority, _ = strconv.Atoi(strings.TrimSpace(prios[i]))
		}
		if v.Name == "" && v.Condition == "" && strings.TrimSpace(v.Content) == "" {
			continue // an empty row
		}
		f.Variants = append(f.Variants, v)
		s.Variants = append(s.Variants, kenner.Variant{Name: v.Name, Condition: v.Condition, Content: contentJSON(v.Content), Priority: v.Priority})
	}
	method, path := "POST", "/v1/slots"
	if f.ID != "" {
		method, path = "PUT", "/v1/slots/"+url.PathEscape(f.ID)
	}
	var saved kenner.Slot
	if err := c.call(r.Context(), rq, method, path, s, &saved); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.slotsPage(w, r, rq, &f, "", kenner.ErrorMessage(err))
		return
	}
	c.slotsPage(w, r, rq, nil, fmt.Sprintf("Slot %s saved. Elements with data-kenner-slot=%q on your site show it within seconds.", saved.Name, saved.Name), "")
}

func (c *Console) deleteSlot(w http.ResponseWriter, r *http.Request, rq *request) {
	if err := c.call(r.Context(), rq, "DELETE", "/v1/slots/"+url.PathEscape(r.PathValue("id")), nil, nil); err != nil {
		c.slotsPage(w, r, rq, nil, "", kenner.ErrorMessage(err))
		return
	}
	c.slotsPage(w, r, rq, nil, "The slot was deleted; its elements keep what the page has in them.", "")
}
