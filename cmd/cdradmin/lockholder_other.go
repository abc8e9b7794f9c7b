//go:build !linux

package main

// lockHolder names the process that holds a lock on path; only Linux
// says (through /proc/locks).
func lockHolder(string) string { return "" }
