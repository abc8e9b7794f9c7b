package fleet_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/fleet"
	"github.com/cdrvault/cdrvault/internal/cdrjson"
	"github.com/cdrvault/cdrvault/internal/storetest"
	"github.com/cdrvault/cdrvault/redaction"
)

type exported struct {
	node string
	rec  cdrjson.Record
}

func export(t *testing.T, is *fleet.Issuer, q fleet.Query, timeout time.Duration) ([]exported, fleet.ExportSummary) {
	t.Helper()
	var got []exported
	sum, err := is.Export(t.Context(), q, timeout, func(node string, r cdrjson.Record) error {
		got = append(got, exported{node, r})
		return nil
	})
	require.NoError(t, err)
	return got, sum
}

func TestExportGathersEveryNodeMergedInTimeOrder(t *testing.T) {
	srv := runServer(t)
	h := newHarness(t, srv.URL(), fleet.Config{})
	big := contactRecords("b", fleet.ChunkRecords+50) // more than one chunk
	h.addNode("a", contactRecords("a", 3)...)
	h.addNode("b", big...)
	other := contactRecords("c", 1)
	other[0].Workspace = "globex"
	h.addNode("c", other...) // no acme here

	q := fleet.Query{Kind: fleet.KindExport, Workspace: "acme", Number: contact}
	got, sum := export(t, h.is, q, 5*time.Second)
	require.Len(t, got, 253)
	assert.True(t, sort.SliceIsSorted(got, func(i, j int) bool { return got[i].rec.StartedAt < got[j].rec.StartedAt }))
	counts := map[string]int{}
	for _, e := range got {
		counts[e.node]++
	}
	assert.Equal(t, map[string]int{"a": 3, "b": 250}, counts)
	assert.Empty(t, sum.Missing)
	require.Len(t, sum.Nodes, 3)
	assert.True(t, sum.Nodes[2].Absent)
	for _, id := range []string{"a", "b"} {
		var access int
		for _, e := range storetest.AuditEntries(t, h.nodes[id].store, "acme") {
			if e.Action == redaction.ActionSubjectAccess {
				access++
				assert.NotEmpty(t, e.Subject)
			}
		}
		assert.Equal(t, 1, access, "node %s audits the query", id)
	}

	// A time window, and a search by IDs across nodes.
	q.Since, q.Until = epoch.Add(-48*time.Hour), epoch.Add(-48*time.Hour+2*time.Minute)
	got, _ = export(t, h.is, q, 5*time.Second)
	assert.Len(t, got, 4)
	got, _ = export(t, h.is, fleet.Query{Kind: fleet.KindSearch, Workspace: "acme", IDs: []string{"a-01", "b-07", "nowhere"}}, 5*time.Second)
	var ids []string
	for _, e := range got {
		ids = append(ids, e.rec.ID)
	}
	assert.ElementsMatch(t, []string{"a-01", "b-07"}, ids)

	// A stopped node is reported missing; a query no issuer signed gets
	// no answer.
	require.NoError(t, h.stop("b"))
	_, sum = export(t, h.is, fleet.Query{Kind: fleet.KindExport, Workspace: "acme", Number: contact}, 2*time.Second)
	assert.Equal(t, []string{"b"}, sum.Missing)
	stranger := newHarness(t, srv.URL(), fleet.Config{})
	got, sum = export(t, stranger.is, fleet.Query{Kind: fleet.KindExport, Workspace: "acme", Number: contact}, 300*time.Millisecond)
	assert.Empty(t, got)
	assert.Equal(t, []string{"a", "b", "c"}, sum.Missing)

	_, err := h.is.Publish(t.Context(), fleet.Command{Kind: fleet.KindExport, RequestID: "x", Workspace: "acme", Number: contact, ReplyKey: make([]byte, 32)})
	require.ErrorIs(t, err, fleet.ErrInvalidCommand)
	_ = cdrstore.ProductSMS
	_ = fmt.Sprint
}
