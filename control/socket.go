package control

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// maxSocketPath is the longest socket path Linux takes: sun_path holds
// 108 bytes, the last of them a NUL.
const maxSocketPath = 107

// SocketPath returns the control socket's path for the store file at db:
// db with ".ctl" appended.
func SocketPath(db string) string { return db + ".ctl" }

func checkPath(path string) error {
	if len(path) > maxSocketPath {
		return &PathTooLongError{Path: path, Len: len(path), Max: maxSocketPath}
	}
	return nil
}

// Peer is the process at the other end of a connection, as the kernel
// reported it when it connected.
type Peer struct {
	UID uint32
	GID uint32
	PID int32
}

// Actor is the audit actor of what the peer runs: "cdradmin uid=U pid=P".
func (p Peer) Actor() string {
	return "cdradmin uid=" + strconv.FormatUint(uint64(p.UID), 10) + " pid=" + strconv.FormatInt(int64(p.PID), 10)
}

// authorize is the one rule of who is served: the socket owner's uid and
// root. Credentials that could not be read (credErr) refuse the peer.
func authorize(p Peer, credErr error, owner uint32) error {
	if credErr != nil {
		return &PeerError{Peer: p, Err: credErr}
	}
	if p.UID != owner && p.UID != 0 {
		return &PeerError{Peer: p}
	}
	return nil
}

// umaskMu serialises the instant the process umask is restrictive.
var umaskMu sync.Mutex

// listen binds the socket at path owner-only, replacing a stale socket.
// The caller holds the store's exclusive lock: no other process holding
// it can be serving, so a socket nothing answers on is left from a dead
// one.
func listen(path string) (*net.UnixListener, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("%w: %s exists and is not a socket", ErrSocketTaken, path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%w: another process answers at %s", ErrSocketTaken, path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control: remove stale socket: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	umaskMu.Lock()
	old := setUmask(0o077)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	setUmask(old)
	umaskMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("control: listen: %w", err)
	}
	return ln, nil
}

// peerListener hands out only connections whose peer authorize accepts;
// the others are logged and closed before a byte is read from them.
type peerListener struct {
	*net.UnixListener
	owner uint32
	creds func(*net.UnixConn) (Peer, error)
	log   *slog.Logger
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil, err
		}
		p, err := l.creds(c)
		if err := authorize(p, err, l.owner); err != nil {
			l.log.Warn("control: peer refused", "uid", p.UID, "pid", p.PID, "err", err)
			c.Close()
			continue
		}
		return &peerConn{UnixConn: c, peer: p}, nil
	}
}

// peerConn is an accepted connection and its peer.
type peerConn struct {
	*net.UnixConn
	peer Peer
}
