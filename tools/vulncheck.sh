#!/usr/bin/env bash
# vulncheck: govulncheck over every package and test binary of this module,
# with each build tag CI uses, against a snapshot of the Go vulnerability
# database taken from the golang.org/x/vulndb module through the Go module
# proxy (so it works where vuln.go.dev cannot be reached). `make vuln` runs it;
# .ci/run too. Exits non-zero when the code reaches a known vulnerability.
#
#   VULNDB_VERSION   the x/vulndb module version (default: latest the proxy has)
#   GOVULNCHECK      the govulncheck package@version to run
#
# With internet access, the same check against the live database is
# `go run golang.org/x/vuln/cmd/govulncheck@v1.9.0 -test ./...`.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
: "${VULNDB_VERSION:=latest}"
: "${GOVULNCHECK:=golang.org/x/vuln/cmd/govulncheck@v1.9.0}"
export GOFLAGS=

# Resolve and download the module outside this module, so go.mod is untouched.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
read -r version dir < <(cd "$scratch" && GO111MODULE=on "$GO" mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
  sed -n 's/^\t"\(Version\|Dir\)": "\(.*\)",$/\2/p' | paste -sd' ')
[ -n "${version:-}" ] && [ -d "${dir:-}" ] || { echo "vulncheck: cannot download golang.org/x/vulndb@$VULNDB_VERSION" >&2; exit 1; }
# The module copy carries zeroed modified/published dates: the pseudo-version's
# timestamp (yyyymmddhhmmss, UTC) is when the snapshot was taken.
echo "vulncheck: Go vulnerability database golang.org/x/vulndb@$version"

# The database in govulncheck's file format, built once per snapshot with the
# module's own cmd/indexdb (cmd/gendb would need a git clone).
cache=${XDG_CACHE_HOME:-$HOME/.cache}/govulndb/$version
if [ ! -f "$cache/index/db.json" ]; then
  "$GO" -C "$dir" build -o "$scratch/indexdb" ./cmd/indexdb
  rm -rf "$cache.tmp" && mkdir -p "$(dirname "$cache")"
  "$scratch/indexdb" -vulns "$dir/data/osv" -out "$cache.tmp"
  rm -rf "$cache" && mv "$cache.tmp" "$cache"
fi

scan() { echo "vulncheck: govulncheck $*"; "$GO" run "$GOVULNCHECK" -db "file://$cache" "$@"; }
"$GO" version
scan -test ./...
scan -test -tags browser ./e2e/
scan -test -tags container ./deploy/
