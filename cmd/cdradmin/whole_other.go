//go:build !linux

package main

import (
	"errors"
	"os"
)

// unnamedFile is not offered here: writeWhole uses a named temporary file.
func unnamedFile(dir string) (*os.File, func(path string) error, error) {
	return nil, nil, errors.ErrUnsupported
}
