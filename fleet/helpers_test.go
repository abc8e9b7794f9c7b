package fleet_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/fleet"
	"github.com/cdrvault/cdrvault/internal/storetest"
)

func ed25519GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand.Reader)
}

func publishRaw(nc *nats.Conn, data []byte) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	_, err = js.Publish(context.Background(), fleet.DefaultSubject, data)
	return err
}

// auditEntries lists the request IDs of the acme workspace's audit.
func auditEntries(t *testing.T, s *cdrstore.Store) []string {
	t.Helper()
	var ids []string
	for _, e := range storetest.AuditEntries(t, s, "acme") {
		ids = append(ids, e.RequestID)
	}
	require.NotNil(t, s)
	return ids
}
