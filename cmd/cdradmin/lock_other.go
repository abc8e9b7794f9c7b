//go:build !unix

package main

// fileLocked cannot probe the lock here: the file is opened, and a held
// one reports cdrstore.ErrLocked after the lock timeout.
func fileLocked(path string) bool { return false }

// fileOwner cannot tell the owner here: only this user and root are
// trusted to serve the socket.
func fileOwner(path string) []uint32 { return nil }
