package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/web"
)

// tagJSON is a source's tag settings with the snippet that loads the tag, ready to paste.
type tagJSON struct {
	kenner.TagSettings
	ScriptPath string `json:"script_path"`
}

func tagSettingsOf(src *kenner.Source) kenner.TagSettings {
	if src.Settings.Tag != nil {
		return *src.Settings.Tag
	}
	return kenner.TagSettings{Consent: kenner.ConsentOptional}
}

func (s *Server) getTagSettings(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	src, err := s.source(r, tok)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, tagJSON{TagSettings: tagSettingsOf(src), ScriptPath: "/analytics.js/v1/{writeKey}/analytics.min.js"})
	return nil
}

// checkTagSettings refuses settings the tag could not follow, and makes defaults explicit.
func checkTagSettings(t *kenner.TagSettings) error {
	switch t.Consent {
	case "":
		t.Consent = kenner.ConsentOptional
	case kenner.ConsentOptional, kenner.ConsentRequired:
	default:
		return kenner.Errorf(kenner.EInvalid, "consent must be optional or required, not %q", t.Consent)
	}
	t.ConsentPurpose = strings.TrimSpace(t.ConsentPurpose)
	if len(t.Tags) > 50 {
		return kenner.Errorf(kenner.EInvalid, "at most 50 tags")
	}
	for i, tg := range t.Tags {
		u, err := url.Parse(tg.Src)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return kenner.Errorf(kenner.EInvalid, "tags[%d] (%s): src must be an https:// URL", i, tg.Name)
		}
		if strings.TrimSpace(tg.Purpose) == "" {
			return kenner.Errorf(kenner.EInvalid, "tags[%d] (%s): purpose names the consent category that allows it (e.g. marketing)", i, tg.Name)
		}
		t.Tags[i].Purpose = strings.TrimSpace(tg.Purpose)
	}
	return nil
}

func (s *Server) putTagSettings(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	src, err := s.source(r, tok)
	if err != nil {
		return err
	}
	var t kenner.TagSettings
	if err := web.Decode(r, maxAdminBody, &t); err != nil {
		return err
	}
	if err := checkTagSettings(&t); err != nil {
		return err
	}
	src.Settings.Tag = &t
	if err := s.updateSettings(r.Context(), src); err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, tagJSON{TagSettings: t, ScriptPath: "/analytics.js/v1/{writeKey}/analytics.min.js"})
	return nil
}
