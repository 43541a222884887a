// Command server is the container's entry point: the function FUNCTION_TARGET
// names (default app, see package function) on $PORT, behind the production
// server (timeouts, h2c, a graceful drain on SIGTERM, telemetry flush).
//
//	server               serve
//	server migrate       apply the database migrations as the owner role and
//	                     exit (the release pipeline's Cloud Run job)
//	server healthcheck   exit 0 when the local server answers /healthz 200
//	                     (for container health checks: the image has no shell)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"example.com/example-function/function"
	"example.com/example-function/internal/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var err error
	switch {
	case len(os.Args) == 2 && os.Args[1] == "healthcheck":
		err = service.HealthCheck(ctx, os.Getenv("LISTEN_HOST"), os.Getenv("PORT"))
	case len(os.Args) == 2 && os.Args[1] == "migrate":
		err = service.Migrate(ctx, os.LookupEnv, os.Stdout)
	case len(os.Args) > 1:
		err = fmt.Errorf("unknown arguments %q; usage: server [migrate|healthcheck]", os.Args[1:])
	default:
		err = service.Run(ctx, os.LookupEnv, os.Stdout, function.Target)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}
