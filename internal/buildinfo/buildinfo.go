// Package buildinfo reports which build is running. Version and Commit are
// stamped at link time (MODULE is the path in go.mod, `go list -m`):
//
//	go build -ldflags "-X MODULE/internal/buildinfo.Version=v1.2.3 \
//	                   -X MODULE/internal/buildinfo.Commit=abc123"
package buildinfo

import (
	"reflect"
	"runtime/debug"
)

// Stamped by -ldflags -X; these are link-time constants, never written at run time.
var (
	Version = ""
	Commit  = ""
)

// LinkFlag returns the -ldflags argument that stamps name (Version or
// Commit) with value. The package path is read from the code, so tools and
// tests keep stamping after the module is renamed.
func LinkFlag(name, value string) string {
	return "-X " + reflect.TypeFor[Info]().PkgPath() + "." + name + "=" + value
}

// Info is what /healthz reports about the build.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

// Get returns the stamped values, falling back to the module version and VCS
// revision Go records in the binary, then to "dev"/"unknown".
func Get() Info {
	i := Info{Version: Version, Commit: Commit}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && i.Commit == "" {
				i.Commit = s.Value
			}
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	return i
}
