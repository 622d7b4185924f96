package sqlite

import (
	"database/sql"
	"fmt"
	"time"
)

// checkpointEvery is how often the checkpointer copies the WAL into the database file.
const checkpointEvery = 100 * time.Millisecond

// checkpointer copies committed WAL frames into the database file from a connection of its
// own. Left to the writer (wal_autocheckpoint), the commit that crosses the threshold does it:
// tens of megabytes written and synced while every caller of that commit round waits, which
// was the p99 of "event accepted to segment change published". A passive checkpoint runs
// beside the writer without blocking it. The writer keeps a far higher autocheckpoint
// threshold as a backstop in case this one falls behind.
type checkpointer struct {
	db   *sql.DB
	stop chan struct{}
	done chan struct{}
}

func startCheckpointer(dsn string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn+"&_pragma=cache_size(-2048)")
	if err != nil {
		return nil, fmt.Errorf("checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			// A failure (the database busy with a migration, say) is retried at the next tick;
			// the writer's backstop threshold bounds the WAL meanwhile.
			c.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}
}

func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}
