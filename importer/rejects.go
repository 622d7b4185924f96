package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/kenner-cdp/kenner"
)

// WriteRejects reads the file again and writes its rejected rows to w, so that they can be
// fixed and imported again with the same mapping: for CSV, the file's header behind two
// columns _line and _reason, then each rejected row as it was read behind its line and
// reason; for NDJSON, one object {"_line", "_reason", "_row"} per rejected row.
func WriteRejects(r io.Reader, m *Mapping, rejects []kenner.ImportIssue, w io.Writer) error {
	if m == nil {
		m = &Mapping{}
	}
	reasons := make(map[int]string, len(rejects))
	for _, x := range rejects {
		reasons[x.Line] = x.Reason
	}
	rows, format, err := m.open(r)
	if err != nil {
		return err
	}
	var d byte
	if c, ok := rows.(*csvReader); ok {
		d = c.delim
		head := []string{"_line", "_reason"}
		head = append(head, c.Header()...)
		for i, h := range head {
			head[i] = csvQuote(h, d)
		}
		if _, err := io.WriteString(w, strings.Join(head, string(d))+"\n"); err != nil {
			return err
		}
	}
	for rec := rows.Next(); rec != nil; rec = rows.Next() {
		reason, ok := reasons[rec.Line]
		if !ok {
			continue
		}
		var line []byte
		if format == FormatNDJSON {
			line, _ = json.Marshal(map[string]any{"_line": rec.Line, "_reason": reason, "_row": string(rec.Raw)})
		} else {
			line = fmt.Appendf(nil, "%d%c%s%c", rec.Line, d, csvQuote(reason, d), d)
			line = append(line, rec.Raw...)
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			return err
		}
	}
	return nil
}

func csvQuote(s string, delim byte) string {
	if !strings.ContainsAny(s, "\"\r\n") && !bytes.ContainsRune([]byte(s), rune(delim)) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
