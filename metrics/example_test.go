package metrics_test

import (
	"log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/httpapi"
	"github.com/cdrvault/cdrvault/metrics"
	"github.com/cdrvault/cdrvault/redaction"
)

// A service wires one collector to the store, the redactor and the HTTP
// API, and serves /metrics, /healthz and /readyz on a listener of their
// own.
func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	m := metrics.New()
	s, err := cdrstore.Open(filepath.Join(dir, "cdrvault.db"), &cdrstore.Options{Observer: m.ObserveStore, Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	rd := redaction.New(s, &redaction.Options{Observer: m.ObserveRedaction})
	api := httpapi.New(rd, &httpapi.Options{Observer: m.ObserveHTTP, Logger: logger})
	m.Watch(s)

	_ = &http.Server{Addr: "127.0.0.1:8080", Handler: api}
	_ = &http.Server{Addr: "127.0.0.1:9090", Handler: m.Handler()}
	// ... ListenAndServe both; or prometheus.MustRegister(m) to use the
	// default registry instead of m.Handler's.
}
