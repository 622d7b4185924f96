package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"testing"
)

func TestRunRestartsUntilDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	Run(ctx, slog.New(slog.DiscardHandler), "test loop", func(ctx context.Context) error {
		calls++
		if calls == 3 {
			cancel()
			return ctx.Err()
		}
		return errors.New("store unreachable")
	})
	if calls != 3 {
		t.Errorf("fn ran %d times, want 3 (two failures, then stopped)", calls)
	}
}
