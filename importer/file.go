package importer

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Formats of import files.
const (
	FormatCSV    = "csv"
	FormatNDJSON = "ndjson"
)

// Encodings of import files. UTF-16 is recognized by its byte order mark; Latin-1 cannot be
// told from UTF-8 reliably, so it is asked for. As in browsers, "latin1" reads Windows-1252,
// its superset (the € and curly quotes Excel writes).
const (
	EncodingUTF8   = "utf-8"
	EncodingLatin1 = "latin1"
)

// open reads a file with the mapping's format, encoding and delimiter (each detected when
// not given).
func (m *Mapping) open(r io.Reader) (reader, string, error) {
	var delim rune
	if m.Delimiter != "" {
		d := []rune(strings.ReplaceAll(m.Delimiter, `\t`, "\t"))
		if len(d) != 1 {
			return nil, "", fmt.Errorf("delimiter must be one character, not %q", m.Delimiter)
		}
		delim = d[0]
	}
	return openFile(r, strings.ToLower(m.Format), m.Encoding, delim)
}

// reader yields the rows of a file.
type reader interface {
	Next() *Record
}

// openFile detects the format (when not given) and encoding, and returns a row reader.
// Detection: a UTF-8 or UTF-16 byte order mark is honoured and removed; a file whose first
// non-blank character is { is NDJSON, anything else CSV.
func openFile(r io.Reader, format, encoding string, delim rune) (reader, string, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	head, _ := br.Peek(4)
	var src io.Reader = br
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3)
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		src = transform.NewReader(br, unicode.BOMOverride(unicode.UTF8.NewDecoder()))
	default:
		switch strings.ToLower(strings.ReplaceAll(encoding, "-", "")) {
		case "", "utf8":
		case "latin1", "iso88591", "windows1252", "cp1252":
			src = transform.NewReader(br, charmap.Windows1252.NewDecoder())
		default:
			return nil, "", fmt.Errorf("unknown encoding %q (utf-8 or latin1)", encoding)
		}
	}
	if src != io.Reader(br) {
		br = bufio.NewReaderSize(src, 256<<10)
	}
	if format == "" {
		format = FormatCSV
		peek, _ := br.Peek(512)
		if t := bytes.TrimLeft(peek, " \t\r\n"); len(t) > 0 && t[0] == '{' {
			format = FormatNDJSON
		}
	}
	switch format {
	case FormatNDJSON:
		return &ndjsonReader{r: br}, format, nil
	case FormatCSV:
		d := byte(delim)
		if delim > 127 {
			return nil, "", fmt.Errorf("the delimiter must be one ASCII character, not %q", delim)
		}
		if d == 0 {
			peek, _ := br.Peek(64 << 10)
			first, _, _ := bytes.Cut(peek, []byte{'\n'})
			d = sniffDelimiter(first)
		}
		c, err := newCSVReader(br, d)
		if err != nil {
			return nil, "", err
		}
		return c, format, nil
	}
	return nil, "", fmt.Errorf("unknown format %q (csv or ndjson)", format)
}
