//go:build !unix

package cdrstore

import "os"

// unlockFile does nothing here: the caller closes f, which is all it can
// do to release bbolt's lock on this system.
func unlockFile(*os.File) {}
