// Command bundle builds the browser assets: `go generate ./internal/web/...`
// runs it as `go run ./assets/bundle -src assets/src -out static` from
// internal/web.
package main

import (
	"flag"
	"fmt"
	"os"

	"example.com/example-function/internal/web/assets"
)

func main() {
	src := flag.String("src", "assets/src", "source folder")
	out := flag.String("out", "static", "output folder (its old contents are replaced)")
	flag.Parse()
	files, err := assets.Build(*src)
	if err == nil {
		err = assets.Write(*out, files)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundle:", err)
		os.Exit(1)
	}
	fmt.Printf("bundle: wrote %d files to %s\n", len(files), *out)
}
