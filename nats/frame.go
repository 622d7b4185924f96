package nats

import (
	"encoding/binary"
	"errors"
)

// A log record's payload is its events, each prefixed by its length as a uvarint. Length framing
// keeps events byte-for-byte as ingestion encoded them (no escaping, no re-parse to split) and
// lets a record carry any JSON, newlines included.

func encodeFrames(events [][]byte) []byte {
	n := 0
	for _, e := range events {
		n += binary.MaxVarintLen32 + len(e)
	}
	buf := make([]byte, 0, n)
	for _, e := range events {
		buf = binary.AppendUvarint(buf, uint64(len(e)))
		buf = append(buf, e...)
	}
	return buf
}

var errBadFrame = errors.New("corrupt log record: bad frame")

func decodeFrames(data []byte) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		n, k := binary.Uvarint(data)
		if k <= 0 || n > uint64(len(data)-k) {
			return nil, errBadFrame
		}
		out = append(out, data[k:k+int(n)])
		data = data[k+int(n):]
	}
	return out, nil
}
