package cdrstore_test

import (
	"testing"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCursorTime(t *testing.T) {
	at := time.Date(2026, 3, 31, 10, 0, 0, 123, time.UTC)
	r := cdrstore.Record{ID: "0123456789abcdef0123456789abcdef", StartedAt: at}
	got, err := cdrstore.CursorTime(r.Cursor())
	require.NoError(t, err)
	assert.Equal(t, at, got)
	for _, bad := range []string{"", "not a cursor", "AA"} {
		_, err := cdrstore.CursorTime(bad)
		assert.ErrorIs(t, err, cdrstore.ErrInvalidCursor, "%q", bad)
	}
}
