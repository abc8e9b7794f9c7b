package control

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuthorize(t *testing.T) {
	const owner = 1000
	for _, tc := range []struct {
		name    string
		peer    Peer
		credErr error
		ok      bool
	}{
		{"the socket's owner", Peer{UID: owner, PID: 7}, nil, true},
		{"root", Peer{UID: 0, PID: 7}, nil, true},
		{"another uid", Peer{UID: 65534, PID: 7}, nil, false},
		{"another uid in the owner's group", Peer{UID: 1001, GID: owner, PID: 7}, nil, false},
		{"credentials unreadable", Peer{}, errors.New("ENOPROTOOPT"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := authorize(tc.peer, tc.credErr, owner)
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrPeerRefused)
			var pe *PeerError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.peer.UID, pe.Peer.UID)
		})
	}
}

func TestTrustServer(t *testing.T) {
	self := []uint32{1000}
	assert.NoError(t, trustServer(Peer{UID: 1000}, nil, self))
	assert.NoError(t, trustServer(Peer{UID: 0}, nil, self))
	assert.ErrorIs(t, trustServer(Peer{UID: 1001}, nil, self), ErrUntrustedServer)
	assert.ErrorIs(t, trustServer(Peer{UID: 1000}, errors.New("unreadable"), self), ErrUntrustedServer, "fails closed")
	// root (self 0) trusts a service run by the store file's owner only.
	assert.NoError(t, trustServer(Peer{UID: 1000}, nil, []uint32{1000, 0}))
	assert.ErrorIs(t, trustServer(Peer{UID: 1001}, nil, []uint32{1000, 0}), ErrUntrustedServer)
}

func TestPeerActor(t *testing.T) {
	assert.Equal(t, "cdradmin uid=1000 pid=4242", Peer{UID: 1000, PID: 4242}.Actor())
}
