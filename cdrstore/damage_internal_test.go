//go:build linux

package cdrstore

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// guarded runs fn as every Store method runs bbolt's code.
func guarded(fn func()) (err error) {
	defer recoverDamage(&err, debug.SetPanicOnFault(true))
	fn()
	return nil
}

var sink byte

// A read of the mapped file outside its pages (what a garbled offset on a
// damaged page leads to, in bbolt's code or ours) is ErrCorrupt, not a
// fault that kills the process; any other panic of ours is raised again.
func TestRecoverDamage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "short")
	require.NoError(t, os.WriteFile(p, make([]byte, 4096), 0o600))
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	data, err := syscall.Mmap(int(f.Fd()), 0, 3*4096, syscall.PROT_READ, syscall.MAP_SHARED)
	require.NoError(t, err)
	defer syscall.Munmap(data)

	err = guarded(func() { sink = data[2*4096] }) // past the end of the file: SIGBUS
	require.ErrorIs(t, err, ErrCorrupt)
	assert.True(t, errors.Is(err, errDamagedPage))

	assert.PanicsWithValue(t, "a bug", func() { _ = guarded(func() { panic("a bug") }) })
	var nilRecord *Record
	assert.Panics(t, func() { _ = guarded(func() { sink = nilRecord.ID[0] }) }, "a nil dereference is a bug, not a damaged file")
	assert.NoError(t, guarded(func() { sink = data[0] }))
}
