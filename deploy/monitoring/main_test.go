// Package monitoring holds no code, only tests: they check that the
// dashboard, alert and uptime files parse into Google's API types and name
// only metrics our instrumentation emits or documented built-ins, and that
// apply.sh issues the expected gcloud commands.
package monitoring

import (
	"os"
	"testing"

	"example.com/example-function/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
