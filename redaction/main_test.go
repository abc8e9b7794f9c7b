package redaction_test

import (
	"testing"

	"github.com/cdrvault/cdrvault/internal/storetest"
)

// TestMain removes the benchmark fixtures after the run.
func TestMain(m *testing.M) { storetest.Main(m) }
