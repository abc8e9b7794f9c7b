package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdrvault/cdrvault/fleet"
	"github.com/cdrvault/cdrvault/internal/natstest"
)

// The permissions README.md shows, for node gw1 and an issuer.
var (
	nodePublish = []string{
		"$JS.API.INFO", "$JS.API.STREAM.INFO.CDRFLEET", "$JS.API.STREAM.INFO.KV_cdrfleet",
		"$JS.API.CONSUMER.CREATE.CDRFLEET.node-gw1.>", "$JS.API.CONSUMER.MSG.NEXT.CDRFLEET.node-gw1",
		"$JS.API.STREAM.MSG.GET.CDRFLEET",
		"$JS.ACK.CDRFLEET.node-gw1.>",
		"$JS.API.CONSUMER.CREATE.KV_cdrfleet.>", "$JS.API.CONSUMER.DELETE.KV_cdrfleet.>", "$JS.API.DIRECT.GET.KV_cdrfleet.>", "$JS.API.STREAM.MSG.GET.KV_cdrfleet",
		"$KV.cdrfleet.node.gw1", "$KV.cdrfleet.report.*.gw1", "$KV.cdrfleet.deferred.gw1.>", "$KV.cdrfleet.record.*",
	}
	issuerPublish = []string{"cdrfleet.cmd", "$JS.API.>", "$KV.cdrfleet.req.*", "$KV.cdrfleet.record.*", "$KV.cdrfleet.node.*"}
)

func user(name string, publish []string) *server.User {
	return &server.User{Username: name, Password: name + "-pw", Permissions: &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: publish},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}}
}

func TestLeastPrivilegePermissionsOfTheReadme(t *testing.T) {
	srv, err := natstest.RunWith(t.TempDir(), func(o *server.Options) {
		o.Users = []*server.User{user("issuer", issuerPublish), user("gw1", nodePublish)}
	})
	require.NoError(t, err)
	t.Cleanup(srv.Kill)
	h := newHarness(t, srv.UserURL("issuer", "issuer-pw"), fleet.Config{})
	h.url = srv.UserURL("gw1", "gw1-pw")
	n := h.addNode("gw1", contactRecords("gw1", 2)...)

	rec := h.wait(h.publish(erase("perm-1")), 20*time.Second)
	require.True(t, rec.Complete(), rec.Summary())
	assert.Equal(t, 2, rec.RecordsAffected)
	assert.Equal(t, 1, auditCount(t, n.store, "perm-1"))

	// The node's user can neither publish a command nor write another
	// node's report.
	nc := h.connect()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err = js.Publish(ctx, fleet.DefaultSubject, []byte("{}"))
	assert.Error(t, err)
	errs := make(chan error, 1)
	nc2, err := nats.Connect(srv.UserURL("gw1", "gw1-pw"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	require.NoError(t, err)
	defer nc2.Close()
	require.NoError(t, nc2.Publish("$KV.cdrfleet.report.0123.other", []byte("{}")))
	require.NoError(t, nc2.Flush())
	select {
	case err := <-errs:
		assert.ErrorIs(t, err, nats.ErrPermissionViolation)
	case <-time.After(5 * time.Second):
		t.Fatal("no permission violation")
	}
}
