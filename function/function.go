// Package function is what the service deploys: a table of HTTP functions,
// each registered with the Functions Framework under its name. Every entry
// point serves from this table the function FUNCTION_TARGET names: cmd/server
// (the container) with its own production server, and the framework's server
// (cmd/functions, and Google's buildpack for a source deploy).
//
// To add a function, add a file such as function/hello.go that imports
// fmt, net/http and internal/service and registers it in init:
//
//	func init() {
//		register("hello", func(s *service.Service) (http.Handler, error) {
//			hello := func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") }
//			return s.Observe(http.HandlerFunc(hello)), nil
//		})
//	}
//
// FUNCTION_TARGET=hello then serves it on every path, from every entry point.
// Never call functions.HTTP directly (a test checks): cmd/server would not
// know the function.
package function

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"example.com/example-function/internal/service"
	"example.com/example-function/internal/web"
)

// A Builder makes a function's handler from the started service, whose
// fields hold the configuration, the logger and the dependencies of package
// web (the item store, auth, telemetry middleware).
type Builder func(*service.Service) (http.Handler, error)

// table is filled by register, from init functions only: like the
// framework's own registry, it is written before main runs and only read
// afterwards.
var table = map[string]Builder{}

func init() {
	// Every route, /healthz and /readyz included.
	register("app", func(s *service.Service) (http.Handler, error) { return web.NewHandler(s.Web) })
	// Only the health check, on any path.
	register("healthz", func(s *service.Service) (http.Handler, error) { return web.NewHealthz(s.Web) })
}

// register adds a function to the table and registers it with the Functions
// Framework. The framework's server starts the service on the first request
// (lazily, since the framework has no start-up hook) and shares it between
// all functions, so a process has one pool whichever functions it serves.
func register(name string, build Builder) {
	if _, dup := table[name]; dup {
		panic(fmt.Sprintf("function %q registered twice", name))
	}
	table[name] = build
	handler := sync.OnceValues(func() (http.Handler, error) {
		s, err := process()
		if err != nil {
			return nil, err
		}
		return build(s)
	})
	functions.HTTP(name, func(w http.ResponseWriter, r *http.Request) {
		h, err := handler()
		if err != nil {
			// The log says why; the client learns nothing internal.
			http.Error(w, "service misconfigured; see the logs", http.StatusInternalServerError)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// process is the service of a Functions Framework process, started by the
// first request to any function. cmd/server never calls it: it starts and
// drains a service of its own.
var process = sync.OnceValues(func() (*service.Service, error) {
	return service.StartProcess(context.Background())
})

// Target builds the function the configuration names (FUNCTION_TARGET,
// default "app"): cmd/server's handler.
func Target(s *service.Service) (http.Handler, error) {
	build, ok := table[s.Config.Function]
	if !ok {
		return nil, fmt.Errorf("FUNCTION_TARGET=%q: no such function; this build has %s", s.Config.Function, strings.Join(Names(), ", "))
	}
	h, err := build(s)
	if err != nil {
		return nil, fmt.Errorf("function %q: %w", s.Config.Function, err)
	}
	return h, nil
}

// Names lists the registered functions, sorted.
func Names() []string {
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
