//go:build unix

package cdrstore

import (
	"os"
	"syscall"
)

// unlockFile drops bbolt's lock on f. Closing f alone does not when bbolt
// has mapped it: the map holds the open file, and the lock with it.
func unlockFile(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
