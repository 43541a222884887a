package deploy

import (
	"os"
	"testing"

	"example.com/example-function/internal/pgtest"
)

// TestMain runs the tests, or, re-executed by the rehearsal with
// REHEARSAL_STUB set, acts as that stubbed tool (stub_test.go).
func TestMain(m *testing.M) {
	if tool := os.Getenv("REHEARSAL_STUB"); tool != "" {
		os.Exit(runStub(tool, os.Args[1:]))
	}
	os.Exit(pgtest.Main(m))
}
