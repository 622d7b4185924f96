//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockData takes the data directory for this process alone: two servers sharing one embedded
// log would corrupt it. The lock is released when the process exits, however it exits.
func lockData(dir string) (release func(), err error) {
	path := filepath.Join(dir, "kenner.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := strings.TrimSpace(string(b))
			if holder == "" {
				holder = "another process"
			} else {
				holder = "process " + holder
			}
			return nil, usageError{fmt.Errorf("data directory %s is in use by %s (a running kenner serve?)", dir, holder)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}

// privateFiles makes every file Kenner creates from here on readable by its own user only
// (0600, directories 0700): the SQLite database and its WAL, the JetStream log, exports. The
// libraries that create them ask for 0644; the umask is what takes the rest away.
func privateFiles() { syscall.Umask(0o077) }
