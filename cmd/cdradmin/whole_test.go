package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeWhole leaves path whole or absent, and nothing else in its
// directory, with an unnamed file (Linux) or a named temporary one.
func TestWriteWhole(t *testing.T) {
	type way struct {
		name    string
		unnamed bool
	}
	ways := []way{{"named temporary file", false}}
	if f, _, err := unnamedFile(t.TempDir()); err == nil { // O_TMPFILE: Linux, where the file system offers it
		f.Close()
		ways = append(ways, way{"unnamed file", true})
	} else if runtime.GOOS == "linux" {
		t.Logf("no unnamed files in the temporary directory (%v): the named way only", err)
	}
	for _, tc := range ways {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.unnamed {
				openUnnamed = func(string) (*os.File, func(string) error, error) { return nil, nil, errors.ErrUnsupported }
				t.Cleanup(func() { openUnnamed = unnamedFile })
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "copy.db")
			n, err := writeWhole(path, func(f *os.File) (int64, error) {
				left, err := os.ReadDir(dir)
				require.NoError(t, err)
				if tc.unnamed {
					assert.Empty(t, left, "the file being written has no name")
				} else {
					assert.Len(t, left, 1)
				}
				k, err := f.WriteString("whole")
				return int64(k), err
			})
			require.NoError(t, err)
			assert.EqualValues(t, 5, n)
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, "whole", string(got))
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())

			_, err = writeWhole(path, func(f *os.File) (int64, error) { return 0, nil })
			assert.ErrorIs(t, err, fs.ErrExist, "path must not exist")
			_, err = writeWhole(filepath.Join(dir, "failed.db"), func(f *os.File) (int64, error) { return 0, errors.New("cut off") })
			assert.EqualError(t, err, "cut off")
			left, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, left, 1, "only the whole file")
			assert.Equal(t, "copy.db", left[0].Name())
		})
	}
}
