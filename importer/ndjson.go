package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/kenner-cdp/kenner/jsonobj"
)

// ndjsonReader reads one JSON object per line; a line that is not one is rejected alone.
type ndjsonReader struct {
	r    *bufio.Reader
	line int
	done bool
}

func (n *ndjsonReader) Next() *Record {
	for !n.done {
		line, err := n.r.ReadSlice('\n')
		var long bool
		if errors.Is(err, bufio.ErrBufferFull) {
			buf := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) && len(buf) <= maxRecordBytes {
				line, err = n.r.ReadSlice('\n')
				buf = append(buf, line...)
			}
			line, long = buf, len(buf) > maxRecordBytes
			for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of an oversized line
				_, err = n.r.ReadSlice('\n')
			}
		} else {
			line = append([]byte(nil), line...)
		}
		if err != nil {
			n.done = true
			if !errors.Is(err, io.EOF) {
				n.line++
				return &Record{Line: n.line, Err: fmt.Errorf("reading the file: %w", err)}
			}
			if len(line) == 0 {
				return nil
			}
		}
		n.line++
		line = trimEOL(line)
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec := &Record{Line: n.line, Raw: line}
		switch {
		case long:
			rec.Err = fmt.Errorf("the line is longer than %d bytes", maxRecordBytes)
		case !jsonobj.Valid(line):
			rec.Err = errors.New("not valid JSON")
		case !jsonobj.IsObject(bytes.TrimSpace(line)):
			rec.Err = errors.New("not a JSON object")
		default:
			rec.Object = bytes.TrimSpace(line)
		}
		return rec
	}
	return nil
}
