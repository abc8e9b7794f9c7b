package main

import (
	"os"
	"path/filepath"
)

// openUnnamed is unnamedFile; a test replaces it to take the other way.
var openUnnamed = unnamedFile

// writeWhole has write fill a new file in path's directory, syncs it, and
// links it to path, which must not exist: path holds a whole file or
// none, even if this process is killed while writing. Where the system
// offers it (Linux, see unnamedFile) the file has no name until it is
// linked, so a process killed while writing leaves nothing behind;
// elsewhere it is a hidden temporary file beside path, which a kill
// leaves there.
func writeWhole(path string, write func(*os.File) (int64, error)) (int64, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, link, err := openUnnamed(dir)
	if err != nil {
		if f, err = os.CreateTemp(dir, "."+base+".partial-*"); err != nil {
			return 0, err
		}
		defer os.Remove(f.Name())
		link = func(path string) error { return os.Link(f.Name(), path) }
	}
	n, err := write(f)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = link(path) // fails if path exists
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if d, derr := os.Open(dir); derr == nil {
			err = d.Sync()
			d.Close()
		}
	}
	return n, err
}
