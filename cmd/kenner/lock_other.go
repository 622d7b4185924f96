//go:build !unix

package main

// lockData cannot lock on this platform; running one server per data directory is up to the
// operator.
func lockData(dir string) (release func(), err error) { return func() {}, nil }

// privateFiles does nothing on this platform: protect the data directory with its own means.
func privateFiles() {}
