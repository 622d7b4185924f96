package main

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// tightenData takes away group and other access from the data directory and everything in
// it, for directories made by an earlier version (0755, files 0644). What it cannot change is
// reported, not fatal: the operator may have set the permissions on purpose (a group-readable
// backup), and Kenner still runs.
func tightenData(dir string, logger *slog.Logger) {
	var failed []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Mode()&fs.ModeSymlink != 0 {
			return nil
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(path, perm&^0o077); err != nil {
				failed = append(failed, path)
			}
		}
		return nil
	})
	if len(failed) > 0 {
		logger.Warn("could not make these files of the data directory private to Kenner's user; do it yourself (chmod go-rwx)", "paths", failed)
	}
}
