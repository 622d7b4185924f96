package server

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/importer"
	"github.com/kenner-cdp/kenner/web"
)

// maxMappingBytes bounds a mapping sent with an import.
const maxMappingBytes = 256 << 10

// importParams are an import's settings, from the query string or the form fields that
// come before the file in a multipart body.
type importParams struct {
	source, typ, mapping, file, format, encoding, delimiter string
	dryRun                                                  bool
}

func (p *importParams) set(name, value string) error {
	switch name {
	case "source":
		p.source = value
	case "type", "as":
		p.typ = value
	case "mapping":
		p.mapping = value
	case "file", "filename":
		p.file = value
	case "format":
		p.format = value
	case "encoding":
		p.encoding = value
	case "delimiter":
		p.delimiter = value
	case "dry_run":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return kenner.Errorf(kenner.EInvalid, "dry_run must be true or false")
		}
		p.dryRun = b
	}
	return nil
}

// createImport loads a file into a source while it is uploaded: either the request body is
// the file (settings in the query string), or a multipart form whose last part, "file", is
// (settings in the fields before it). It answers once the whole file is read, with the
// report; GET /v1/imports/{id} shows the progress meanwhile.
func (s *Server) createImport(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	var p importParams
	for name, vs := range r.URL.Query() {
		if err := p.set(name, vs[0]); err != nil {
			return err
		}
	}
	body := io.Reader(r.Body)
	total := r.ContentLength
	if mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		mr := multipart.NewReader(r.Body, params["boundary"])
		var file *multipart.Part
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return kenner.Errorf(kenner.EInvalid, "reading the multipart body: %v", err)
			}
			if part.FormName() == "file" {
				file = part
				if p.file == "" {
					p.file = part.FileName()
				}
				break
			}
			v, err := io.ReadAll(io.LimitReader(part, maxMappingBytes+1))
			if err != nil {
				return kenner.Errorf(kenner.EInvalid, "reading form field %q: %v", part.FormName(), err)
			}
			if len(v) > maxMappingBytes {
				return kenner.Errorf(kenner.ETooLarge, "form field %q is longer than %d bytes", part.FormName(), maxMappingBytes)
			}
			if err := p.set(part.FormName(), string(v)); err != nil {
				return err
			}
		}
		if file == nil {
			return kenner.Errorf(kenner.EInvalid, `the multipart body has no "file" part (send it after the other fields)`)
		}
		body = file
	}
	if p.source == "" {
		return kenner.Errorf(kenner.EInvalid, "source is required (the name or id of the source the rows come from)")
	}
	src, err := s.sourceByRef(r.Context(), tok.WorkspaceID, p.source)
	if err != nil {
		return err
	}
	m, err := importer.ParseMapping([]byte(p.mapping))
	if err != nil {
		return kenner.Errorf(kenner.EInvalid, "%v", err)
	}
	for _, o := range []struct {
		dst *string
		v   string
	}{{&m.Format, p.format}, {&m.Encoding, p.encoding}, {&m.Delimiter, p.delimiter}} {
		if o.v != "" {
			*o.dst = o.v
		}
	}

	now := time.Now().UTC()
	rep := &kenner.Import{ID: kenner.NewID("imp"), WorkspaceID: tok.WorkspaceID, SourceID: src.ID, File: p.file,
		Type: p.typ, DryRun: p.dryRun, Status: kenner.ImportRunning, Rejects: []kenner.ImportIssue{}, StartedAt: now, UpdatedAt: now}
	if total > 0 {
		rep.TotalBytes = total
	}
	if err := s.deps.Store.SaveImport(r.Context(), rep); err != nil {
		return err
	}
	last := now
	opts := importer.Options{Type: p.typ, Mapping: m, DryRun: p.dryRun, Progress: func(im *kenner.Import) {
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		if err := s.deps.Store.SaveImport(r.Context(), im); err != nil {
			s.deps.Logger.Warn("saving import progress", "import", im.ID, "err", err)
		}
	}}
	runErr := importer.New(s.deps.Ingest, s.deps.Store).Run(r.Context(), src, body, opts, rep)
	// The record is saved even when the client went away, so that it shows how far it got.
	if err := s.deps.Store.SaveImport(context.WithoutCancel(r.Context()), rep); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	s.deps.Logger.Info("import done", "import", rep.ID, "source", src.Name, "rows", rep.Rows, "imported", rep.Imported,
		"duplicates", rep.Duplicates, "rejected", rep.Rejected, "dry_run", rep.DryRun)
	w.Header().Set("Location", "/v1/imports/"+rep.ID)
	web.JSON(w, http.StatusOK, rep)
	return nil
}

// sourceByRef finds a source by name, or by id.
func (s *Server) sourceByRef(ctx context.Context, ws, ref string) (*kenner.Source, error) {
	src, err := s.deps.Store.SourceByName(ctx, ws, ref)
	if kenner.ErrorCode(err) != kenner.ENotFound {
		return src, err
	}
	if src, err := s.deps.Store.SourceByID(ctx, ref); err == nil && src.WorkspaceID == ws {
		return src, nil
	}
	return nil, kenner.Errorf(kenner.ENotFound, "no source named %q", ref)
}

func (s *Server) listImports(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	limit, err := pageLimit(r.URL.Query().Get("limit"))
	if err != nil {
		return err
	}
	list, next, err := s.deps.Store.Imports(r.Context(), tok.WorkspaceID, r.URL.Query().Get("after"), limit)
	if err != nil {
		return err
	}
	if list == nil {
		list = []kenner.Import{}
	}
	// A list shows the counts; the rows themselves are at /v1/imports/{id}.
	now := time.Now()
	for i := range list {
		list[i].Rejects, list[i].Issues, list[i].Sample = nil, nil, nil
		if list[i].Interrupted(now) {
			list[i].MarkInterrupted(now)
		}
	}
	web.JSON(w, http.StatusOK, map[string]any{"imports": list, "next": next})
	return nil
}

func (s *Server) getImport(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	im, err := s.deps.Store.Import(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	// A process that ran it stopped (a CLI import killed beside this server): it shows as
	// failed now; the next server start records it so.
	if now := time.Now(); im.Interrupted(now) {
		im.MarkInterrupted(now)
	}
	web.JSON(w, http.StatusOK, im)
	return nil
}
