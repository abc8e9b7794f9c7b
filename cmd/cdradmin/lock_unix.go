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
