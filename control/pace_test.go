package control_test

import (
	"io/fs"
	"math"
	"os"
	"testing"

	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
	"github.com/stretchr/testify/require"
)

// A stream share outside [0.001, 1] is refused before anything is bound.
func TestStartRefusesABadStreamShare(t *testing.T) {
	s := storetest.Open(t, nil)
	for _, share := range []float64{-0.5, 1e-9, 1.5, math.NaN()} {
		_, err := control.Start(redaction.New(s, nil), &control.Options{StreamShare: share})
		require.ErrorContains(t, err, "StreamShare", "%v", share)
		_, err = os.Lstat(control.SocketPath(s.Path()))
		require.ErrorIs(t, err, fs.ErrNotExist, "nothing bound for %v", share)
	}
}
