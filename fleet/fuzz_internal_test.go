package fleet

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cdrvault/cdrvault/e164"
)

// FuzzOpen feeds arbitrary bytes to a node's command decoder: it never
// panics, and what it accepts is a valid command whose correlation it
// names.
func FuzzOpen(f *testing.F) {
	k, err := NewKeys()
	require.NoError(f, err)
	cmd := Command{Kind: KindEraseContact, RequestID: "fuzz-1", IssuedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		Workspace: "acme", Number: e164.MustParse("+2348031234567", ""), Reason: "gdpr_art17"}
	raw, _, err := seal(k, cmd)
	require.NoError(f, err)
	f.Add(raw)
	f.Add([]byte(`{"v":1,"corr":"00000000000000000000000000000000"}`))
	f.Add([]byte("not json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, corr, err := open(k, data)
		if err != nil {
			return
		}
		require.NoError(t, c.Validate())
		require.Equal(t, k.Correlation(c.RequestID), corr)
	})
}
