// Command functions runs the registered functions with the Functions
// Framework, as the framework documents:
//
//	FUNCTION_TARGET=app go run ./cmd/functions
//	FUNCTION_TARGET=healthz go run ./cmd/functions
//
// It is the buildpack-style entry point; cmd/server is the production one
// (the framework's server has no timeouts and no graceful shutdown).
package main

import (
	"log"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "example.com/example-function/function" // registers "app" and "healthz"
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
