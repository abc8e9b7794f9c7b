package fleet_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
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

// auditCount counts the acme workspace's audit entries under request ID
// id (kept as its keyed HMAC).
func auditCount(t *testing.T, s *cdrstore.Store, id string) int {
	t.Helper()
	var key string
	require.NoError(t, s.View(func(tx *cdrstore.Tx) error { key = hex.EncodeToString(tx.RequestKey(id)); return nil }))
	n := 0
	for _, e := range storetest.AuditEntries(t, s, "acme") {
		if e.RequestID == key {
			n++
		}
	}
	return n
}
