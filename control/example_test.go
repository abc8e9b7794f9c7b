package control_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/control"
	"github.com/cdrvault/cdrvault/redaction"
)

// A service that embeds a store turns the control socket on with one
// call, so that cdradmin works against the store while the service runs.
func ExampleStart() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	// The service's own store and redactor.
	s, err := cdrstore.Open(filepath.Join(dir, "cdrvault.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	rd := redaction.New(s, nil)

	// One call: the socket is cdrvault.db.ctl, owner-only, served until
	// Close (on shutdown), which removes it.
	ctl, err := control.Start(rd, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ctl.Close()
	fmt.Println(filepath.Base(ctl.Path()))

	// What cdradmin --db cdrvault.db does from another process.
	c, err := control.Dial(context.Background(), control.SocketPath(s.Path()))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	st, err := c.Stats(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(st.Workspaces), "workspaces")
	// Output:
	// cdrvault.db.ctl
	// 0 workspaces
}
