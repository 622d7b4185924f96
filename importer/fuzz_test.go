package importer

import (
	"bytes"
	"testing"
)

// FuzzImportFile feeds arbitrary files through the readers and the row mapping: nothing may
// panic, rows come in line order, and every row is either read or rejected with a reason.
func FuzzImportFile(f *testing.F) {
	for _, seed := range []string{
		"id,email\n1,a@b.c\n",
		"\xef\xbb\xbfid;email\n1;\"a\"\"b\"\n2;\"open\n",
		"id\temail\r\n1\tx\r\n\r\n",
		"\xff\xfei\x00d\x00\n\x001\x00",
		"{\"id\": 1, \"email\": \"a@b.c\"}\n{bad\n",
		"id,email\n\"1,2\n3,4\"\n5,6,7\n",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, latin1 bool) {
		enc := ""
		if latin1 {
			enc = EncodingLatin1
		}
		rows, format, err := openFile(bytes.NewReader(data), "", enc, 0)
		if err != nil {
			return // an empty file or a header that cannot be read: a clear error
		}
		var header []string
		if c, ok := rows.(*csvReader); ok {
			header = c.Header()
		}
		m := &Mapping{Columns: map[string]Column{"id": {Target: "userId"}, "email": {Target: "traits.email"}}}
		conv, err := newConverter(m, "identify", "src", header, format == FormatNDJSON)
		if err != nil {
			return // the header lacks the mapped columns
		}
		last := 0
		for rec := rows.Next(); rec != nil; rec = rows.Next() {
			if rec.Line <= last {
				t.Fatalf("line %d after line %d", rec.Line, last)
			}
			last = rec.Line
			if rec.Err != nil {
				if rec.Err.Error() == "" {
					t.Fatal("a rejected row without a reason")
				}
				continue
			}
			msg, key, err := conv.convert(rec)
			if err != nil {
				if err.Error() == "" {
					t.Fatal("a rejected row without a reason")
				}
				continue
			}
			if len(key) != 16 || !bytes.HasPrefix(msg, []byte(`{"messageId":`)) {
				t.Fatalf("row %d made %q with key %x", rec.Line, msg, key)
			}
		}
	})
}
