package deploy

import (
	"os"
	"testing"

	"example.com/example-function/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
