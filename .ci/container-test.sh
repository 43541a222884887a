#!/usr/bin/env bash
# Container check: build the image from the real Dockerfile with podman (local
# stand-ins for the digest-pinned base images), run it against a throwaway
# PostgreSQL and check /healthz and its stamped version, an item round trip,
# uid 65532, no shell in the image, size < 40 MB, SIGTERM exit 0 within 10 s.
# The tests are deploy/container_test.go and deploy/buildcontext_test.go (what
# the builder receives under .dockerignore), build tag "container".
#
# Needs podman and the stand-ins: run `container-bases setup` once first
# (CI does; see .ci/run). Cold build ~5-15 min on 2 cores; warm ~30 s.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

for tool in ../shared/tools/container-bases /work/shared/tools/container-bases; do
  if [ -x "$tool" ] || [ -f "$tool" ]; then
    eval "$(bash "$tool" env)"
    break
  fi
done
if ! command -v podman >/dev/null; then
  echo "container-test: podman is missing: run container-bases setup first" >&2
  exit 1
fi
exec go test -tags container -run '^TestContainer' -count=1 -timeout 30m -v ./deploy/
