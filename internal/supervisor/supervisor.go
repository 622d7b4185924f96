// Package supervisor keeps a long-running loop (a log reader, a dispatcher, a relay) going
// across failures of what it depends on.
package supervisor

import (
	"context"
	"log/slog"
	"time"
)

// Run runs fn until ctx is done. Whenever fn returns before that (the store or the log
// unreachable), the failure is logged and fn runs again after a pause that doubles from
// 100 ms up to 10 s.
func Run(ctx context.Context, logger *slog.Logger, what string, fn func(ctx context.Context) error) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := fn(ctx)
		if ctx.Err() != nil {
			return
		}
		logger.Error(what+" stopped; restarting", "err", err, "after", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}
