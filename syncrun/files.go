package syncrun

import (
	"context"
	"path"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/importer"
	"github.com/kenner-cdp/kenner/objstore"
)

// runFiles imports the files of the bucket's folder not imported before, in name order. A
// file is known by its name and version (ETag): one written again is imported again (its rows
// already imported are recognized as duplicates), one left as it is never is.
func (r *Runner) runFiles(ctx context.Context, sy *kenner.Sync, p *progress) error {
	var c s3Config
	if err := decodeConfig(sy.Config, &c); err != nil {
		return err
	}
	m, err := importer.ParseMapping(sy.Mapping)
	if err != nil {
		return kenner.Errorf(kenner.EInvalid, "%v", err)
	}
	cl, err := objstore.New(c.Config, r.cfg.Egress, "config")
	if err != nil {
		return err
	}
	objs, err := cl.List(ctx)
	if err != nil {
		return err
	}
	imported := map[string]bool{}
	if err := r.eachItem(ctx, sy, func(it kenner.SyncItem) { imported[it.Key] = true }); err != nil {
		return err
	}
	for _, o := range objs {
		format := strings.ToLower(c.Format)
		if format == "" {
			format = formatOf(o.Key)
		}
		if format == "" {
			continue // not a file this sync reads (a manifest, a README)
		}
		key := o.Key + "@" + o.ETag
		if imported[key] {
			continue
		}
		if err := r.importObject(ctx, sy, p, cl, c, m, o, format); err != nil {
			return err
		}
		if err := r.cfg.Store.PutSyncItems(ctx, sy.WorkspaceID, sy.ID, []kenner.SyncItem{{Key: key}}); err != nil {
			return err
		}
		p.update(func(run *kenner.SyncRun) { run.Files = append(run.Files, o.Key) })
	}
	return nil
}

func (r *Runner) importObject(ctx context.Context, sy *kenner.Sync, p *progress, cl *objstore.Client, c s3Config, m *importer.Mapping, o objstore.Object, format string) error {
	body, err := cl.Open(ctx, o.Key)
	if err != nil {
		return err
	}
	defer body.Close()
	fm := *m
	fm.Format = format
	return r.importFile(ctx, sy, p, "s3://"+c.Bucket+"/"+o.Key, body, &fm)
}

// formatOf is the format a file's extension says ("" for files of no format imports read).
func formatOf(key string) string {
	ext := strings.ToLower(path.Ext(key))
	switch ext {
	case ".csv", ".tsv", ".txt":
		return importer.FormatCSV
	case ".ndjson", ".jsonl", ".json":
		return importer.FormatNDJSON
	}
	return ""
}
