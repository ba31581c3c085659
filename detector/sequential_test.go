package detector

import (
	"testing"

	"github.com/prefail/prefail/internal/sequentialtest"
)

// The package runs on one goroutine, so .ci/run tests it without -race,
// five to ten times faster (internal/sequentialtest says why that is safe).
func TestSequential(t *testing.T) { sequentialtest.Require(t) }
