package telemetry

import (
	"io"
	"os"
	"testing"

	"example.com/example-function/internal/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(discardReaderEnv) != "" {
		// The reading end of a benchmark's pipe (discardProcess), no tests.
		if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(pgtest.Main(m))
}
