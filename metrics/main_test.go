package metrics_test

import (
	"testing"

	"github.com/cdrvault/cdrvault/internal/storetest"
)

// TestMain removes the benchmark fixtures after the run and fails it when
// a log line held a number or a body.
func TestMain(m *testing.M) { storetest.Main(m) }
