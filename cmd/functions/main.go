// Command functions serves the registered functions with the Functions
// Framework's own server, as Google's buildpack does for a source deploy:
//
//	FUNCTION_TARGET=app go run ./cmd/functions
//	FUNCTION_TARGET=healthz go run ./cmd/functions
//
// For local runs; the container runs cmd/server, whose server has the
// timeouts, graceful drain and telemetry flush this one lacks.
package main

import (
	"log"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "example.com/example-function/function" // registers the functions
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("funcframework.Start: %v", err)
	}
}
