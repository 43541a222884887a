package telemetry

import (
	"io"
	"os"
	"testing"

	"example.com/example-function/internal/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(discardReaderEnv) != "" {
		_, err := io.Copy(io.Discard, os.Stdin)
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(pgtest.Main(m))
}
