//go:build unix

package main

import (
	"errors"
	"os"
	"syscall"
)

// fileLocked reports whether another open file description holds an
// exclusive lock on the store file at path (bbolt's writer lock), asking
// without waiting. A missing file is not locked.
func fileLocked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return false
	}
	return errors.Is(err, syscall.EWOULDBLOCK)
}

// fileOwner returns the uid that owns the file at path, if it can tell:
// a service running as the store's owner is trusted by its other users'
// cdradmin (root's, say).
func fileOwner(path string) []uint32 {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return []uint32{st.Uid}
	}
	return nil
}
