// Command kenner is the Kenner customer data platform: the server and its admin CLI.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/kenner-cdp/kenner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError marks errors in how the command was called; they exit with status 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// run executes one command line and returns the process exit status: 0 success, 1 failure,
// 2 bad usage or invalid input.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := newRoot(stdin, stdout, stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "kenner: %s\n", message(err))
	var ue usageError
	var exit exitError
	switch {
	case errors.As(err, &exit):
		return exit.code
	case errors.As(err, &ue), kenner.ErrorCode(err) == kenner.EInvalid:
		return 2
	default:
		return 1
	}
}

// exitError ends a command with a given status after its output has been written.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func message(err error) string {
	var ke *kenner.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	return err.Error()
}
