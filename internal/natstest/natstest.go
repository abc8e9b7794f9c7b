// Package natstest runs NATS servers with JetStream inside the process:
// one server, or a cluster of three with kill and restart, for the fleet
// tests, benchmarks and `cdradmin fleet demo`. Nothing needs to be
// installed. Every server syncs its file store on every write
// (sync_interval: always), as the fleet requires.
package natstest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrNotReady is returned when a server or cluster does not become ready
// in time.
var ErrNotReady = errors.New("natstest: not ready")

// Server is one embedded server.
type Server struct {
	*server.Server
	opts *server.Options
}

func options(name, dir string, port int) *server.Options {
	return &server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		SyncAlways: true,
		NoLog:      true,
		NoSigs:     true,
	}
}

// Run starts a single server with its store in dir on a free port.
func Run(dir string) (*Server, error) { return RunWith(dir, nil) }

// RunWith is Run with the options changed by edit (users and their
// permissions, say) before the server starts.
func RunWith(dir string, edit func(*server.Options)) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: options("single", dir, port)}
	if edit != nil {
		edit(s.opts)
	}
	return s, s.start()
}

func (s *Server) start() error {
	opts := *s.opts
	ns, err := server.NewServer(&opts)
	if err != nil {
		return err
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return fmt.Errorf("%w: server %s", ErrNotReady, s.opts.ServerName)
	}
	s.Server = ns
	return nil
}

// URL is the server's client URL.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.opts.Port) }

// UserURL is the client URL with user:password.
func (s *Server) UserURL(user, password string) string {
	return fmt.Sprintf("nats://%s:%s@127.0.0.1:%d", user, password, s.opts.Port)
}

// Kill stops the server at once.
func (s *Server) Kill() {
	if s.Server != nil {
		s.Server.Shutdown()
		s.Server.WaitForShutdown()
		s.Server = nil
	}
}

// Restart starts a killed server again on the same port and store.
func (s *Server) Restart() error {
	s.Kill()
	return s.start()
}

// Running reports whether the server runs.
func (s *Server) Running() bool { return s.Server != nil }

// Cluster is three (or n) servers joined by routes, JetStream clustered.
type Cluster struct {
	Servers []*Server
}

// RunCluster starts n servers with stores under dir and waits until
// JetStream has a meta leader.
func RunCluster(dir string, n int) (*Cluster, error) {
	ports := make([]int, 2*n)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	var routes []*url.URL
	for i := 0; i < n; i++ {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", ports[n+i])})
	}
	c := &Cluster{}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("s%d", i+1)
		o := options(name, filepath.Join(dir, name), ports[i])
		o.Cluster = server.ClusterOpts{Name: "cdrfleet", Host: "127.0.0.1", Port: ports[n+i]}
		o.Routes = routes
		c.Servers = append(c.Servers, &Server{opts: o})
	}
	for _, s := range c.Servers {
		if err := s.start(); err != nil {
			c.Shutdown()
			return nil, err
		}
	}
	if err := c.WaitReady(20 * time.Second); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

// WaitReady waits until a running server is the JetStream meta leader.
func (c *Cluster) WaitReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, s := range c.Servers {
			if s.Running() && s.JetStreamIsLeader() {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%w: no JetStream meta leader", ErrNotReady)
}

// URLs is every server's client URL, comma-separated (as nats.Connect
// takes them).
func (c *Cluster) URLs() string {
	var us []string
	for _, s := range c.Servers {
		us = append(us, s.URL())
	}
	return strings.Join(us, ",")
}

// StreamLeader returns the index of the running server leading stream
// (in the global account), or -1.
func (c *Cluster) StreamLeader(stream string) int {
	for i, s := range c.Servers {
		if s.Running() && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	return -1
}

// Shutdown stops every server.
func (c *Cluster) Shutdown() {
	for _, s := range c.Servers {
		s.Kill()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StoreDir is the server's JetStream store directory.
func (s *Server) StoreDir() string { return s.opts.StoreDir }
