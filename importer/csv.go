package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Record is one row of a file: its fields (CSV) or object (NDJSON), the line it starts on
// (the header is line 1), and its text as read, for the rejects file.
type Record struct {
	Line   int
	Fields []string
	Object []byte
	Raw    []byte
	// Err says why the row could not be read; the reader goes on with the next row.
	Err error
}

// Limits that keep one broken row from swallowing the file.
const (
	maxRecordLines = 64
	maxRecordBytes = 1 << 20
)

// csvReader reads CSV the way spreadsheets write it (RFC 4180: quoted fields, doubled quotes,
// line breaks inside quotes, CRLF) and survives the ways they break it: a row whose quotes
// do not close is rejected alone and reading resumes on the next line; a bare quote inside a
// field is kept as a character; trailing empty fields beyond the header are ignored.
type csvReader struct {
	r      *bufio.Reader
	delim  byte
	header []string
	line   int      // physical lines consumed
	ahead  [][]byte // physical lines read but not yet consumed (after a resync)
	eof    bool
}

func newCSVReader(r *bufio.Reader, delim byte) (*csvReader, error) {
	c := &csvReader{r: r, delim: delim}
	for {
		rec := c.next(0)
		if rec == nil {
			return nil, errors.New("the file is empty: a CSV file needs a header row naming its columns")
		}
		if rec.Err != nil {
			return nil, fmt.Errorf("line %d: header: %v", rec.Line, rec.Err)
		}
		if len(rec.Fields) == 1 && rec.Fields[0] == "" {
			continue // blank lines before the header
		}
		for i, f := range rec.Fields {
			rec.Fields[i] = string(bytes.TrimSpace([]byte(f)))
		}
		c.header = rec.Fields
		return c, nil
	}
}

// Header returns the column names.
func (c *csvReader) Header() []string { return c.header }

// Next returns the next row, or nil at the end. Blank lines are skipped.
func (c *csvReader) Next() *Record {
	for {
		rec := c.next(len(c.header))
		if rec == nil || rec.Err != nil || !(len(rec.Fields) == 1 && rec.Fields[0] == "") {
			return rec
		}
	}
}

// physical returns the next physical line without its line break, or nil at the end.
func (c *csvReader) physical(i int) ([]byte, error) {
	for len(c.ahead) <= i {
		if c.eof {
			return nil, nil
		}
		line, err := c.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it whole, up to the record limit.
			buf := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) && len(buf) <= maxRecordBytes {
				line, err = c.r.ReadSlice('\n')
				buf = append(buf, line...)
			}
			line = buf
		} else {
			line = append([]byte(nil), line...)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
				return nil, err
			}
			c.eof = errors.Is(err, io.EOF)
			if len(line) == 0 {
				continue
			}
		}
		c.ahead = append(c.ahead, line)
	}
	return c.ahead[i], nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

// next parses one record. want is the header's width (0 while reading the header): a
// record that spans lines must have it, or its first line is rejected alone, since an
// unclosed quote is far likelier than a field with a line break that breaks the row.
func (c *csvReader) next(want int) *Record {
	first, err := c.physical(0)
	if err != nil {
		c.line++
		c.ahead = nil
		c.eof = true
		return &Record{Line: c.line, Err: fmt.Errorf("reading the file: %w", err)}
	}
	if first == nil {
		return nil
	}
	start := c.line + 1
	fields, used, perr := c.parse(want)
	if perr != nil {
		// Reject the first physical line alone and go on with the next one.
		raw := trimEOL(c.ahead[0])
		c.ahead = c.ahead[1:]
		c.line++
		return &Record{Line: start, Raw: raw, Err: perr}
	}
	var raw []byte
	for _, l := range c.ahead[:used] {
		raw = append(raw, l...)
	}
	c.ahead = c.ahead[used:]
	c.line += used
	raw = trimEOL(raw)
	rec := &Record{Line: start, Fields: fields, Raw: raw}
	if !utf8.Valid(raw) {
		rec.Err = errors.New("not valid UTF-8 text (if the file is Latin-1 or Windows-1252, import it with encoding latin1)")
	}
	return rec
}

// parse reads the fields of the record that starts at the first pending line, reading more
// lines while a quoted field is open. It returns how many lines the record used.
func (c *csvReader) parse(want int) (fields []string, used int, err error) {
	var field []byte
	inQuotes, quoted := false, false
	for li := 0; ; li++ {
		if li >= maxRecordLines {
			return nil, 0, errors.New("a quoted field is not closed (a stray \" in this line?)")
		}
		line, err := c.physical(li)
		if err != nil {
			return nil, 0, fmt.Errorf("reading the file: %w", err)
		}
		if line == nil {
			return nil, 0, errors.New("a quoted field is not closed before the end of the file")
		}
		if li > 0 {
			field = append(field, '\n') // the line break inside the quoted field
		}
		line = trimEOL(line)
		for i := 0; i < len(line); i++ {
			b := line[i]
			switch {
			case inQuotes && b == '"':
				switch {
				case i+1 < len(line) && line[i+1] == '"':
					field = append(field, '"')
					i++
				case i+1 == len(line) || line[i+1] == c.delim:
					inQuotes = false
				default:
					field = append(field, '"') // a bare quote inside a quoted field
				}
			case inQuotes:
				field = append(field, b)
			case b == c.delim:
				fields = append(fields, string(field))
				field, quoted = field[:0], false
			case b == '"' && len(field) == 0 && !quoted:
				inQuotes, quoted = true, true
			default:
				field = append(field, b)
			}
		}
		if inQuotes {
			continue
		}
		fields = append(fields, string(field))
		used = li + 1
		break
	}
	if want > 0 {
		for len(fields) > want && fields[len(fields)-1] == "" {
			fields = fields[:len(fields)-1]
		}
		if len(fields) != want {
			return nil, 0, fmt.Errorf("%d fields, but the header has %d", len(fields), want)
		}
	}
	return fields, used, nil
}

// sniffDelimiter picks the delimiter of a header line: the one of , ; tab | that appears
// most often outside quotes (comma when none does).
func sniffDelimiter(header []byte) byte {
	counts := map[byte]int{}
	inQuotes := false
	for _, b := range header {
		switch {
		case b == '"':
			inQuotes = !inQuotes
		case inQuotes:
		case b == ',' || b == ';' || b == '\t' || b == '|':
			counts[b]++
		}
	}
	best, n := byte(','), 0
	for _, d := range []byte{',', ';', '\t', '|'} {
		if counts[d] > n {
			best, n = d, counts[d]
		}
	}
	return best
}
