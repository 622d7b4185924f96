package privacy

import (
	"bytes"
	"context"
	"crypto/rand"
)

// keyRequest is one caller's missing keys, created with those of the callers waiting beside
// it (Keys.batch): the tracking API's concurrent requests each find a few new people, and one
// store transaction for all of them costs about what one costs alone. At 128 clients sending
// one event each, every request used to open its own write transaction, in line with the
// processor's, on the embedded store's single writer.
type keyRequest struct {
	ws       string
	subjects []subjectID
	stored   map[string][]byte // the wrapped keys stored for subjects (new, or another writer's)
	existed  int               // how many of them another writer had stored
	err      error
	done     chan struct{}
}

// create stores new keys for subjects (unless another writer stored them first) and returns
// the wrapped keys stored, and how many of them were there already.
func (k *Keys) create(ws string, subjects []subjectID) (map[string][]byte, int, error) {
	r := &keyRequest{ws: ws, subjects: subjects, done: make(chan struct{})}
	k.batch.Do(r, r.done)
	return r.stored, r.existed, r.err
}

// createRound makes the keys of every waiting request, one store transaction per workspace,
// and wakes each request with its own. The round outlives any one caller's context.
func (k *Keys) createRound(round []*keyRequest) {
	byWS := map[string][]*keyRequest{}
	var order []string
	for _, r := range round {
		if _, ok := byWS[r.ws]; !ok {
			order = append(order, r.ws)
		}
		byWS[r.ws] = append(byWS[r.ws], r)
	}
	for _, ws := range order {
		fresh := map[string][]byte{}
		for _, r := range byWS[ws] {
			for _, s := range r.subjects {
				id := s.String()
				if _, ok := fresh[id]; !ok {
					var dk [32]byte
					rand.Read(dk[:])
					fresh[id] = k.seal(ws, id, dk[:])
				}
			}
		}
		stored, err := k.store.PutSubjectKeys(context.Background(), ws, fresh)
		for _, r := range byWS[ws] {
			r.err = err
			if err == nil {
				r.stored = make(map[string][]byte, len(r.subjects))
				for _, s := range r.subjects {
					if w, ok := stored[s.String()]; ok {
						r.stored[s.String()] = w
						if !bytes.Equal(w, fresh[s.String()]) {
							r.existed++
						}
					}
				}
			}
			close(r.done)
		}
	}
}
