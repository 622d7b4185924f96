package pebble

import (
	"fmt"
	"log/slog"
	"os"
)

// logger writes Pebble's messages to slog: its routine ones (WAL recovery, compactions) at
// debug level, errors as errors. Fatalf is Pebble's own verdict that the engine cannot go on.
type logger struct{ l *slog.Logger }

func (g logger) Infof(format string, args ...any) {
	g.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (g logger) Errorf(format string, args ...any) {
	g.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (g logger) Fatalf(format string, args ...any) {
	g.l.Error("pebble: fatal: " + fmt.Sprintf(format, args...))
	os.Exit(1)
}
