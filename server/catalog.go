package server

import (
	"encoding/json"
	"net/http"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/catalog"
	"github.com/kenner-cdp/kenner/web"
)

func (s *Server) listCatalog(w http.ResponseWriter, r *http.Request, _ *kenner.Token) error {
	list, err := catalog.List()
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]any{"connectors": list})
	return nil
}

func (s *Server) getConnector(w http.ResponseWriter, r *http.Request, _ *kenner.Token) error {
	c, err := catalog.Get(r.PathValue("id"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, c)
	return nil
}

// sampleConnector maps a webhook source's sample delivery with its preset and answers the
// messages it makes; nothing is stored.
func (s *Server) sampleConnector(w http.ResponseWriter, r *http.Request, _ *kenner.Token) error {
	msgs, body, err := catalog.Sample(r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]json.RawMessage, len(msgs))
	for i, m := range msgs {
		out[i] = m.Body
	}
	web.JSON(w, http.StatusOK, map[string]any{"sample": string(body), "messages": out})
	return nil
}
