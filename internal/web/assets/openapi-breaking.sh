#!/usr/bin/env bash
# Fails when internal/web/openapi.json breaks clients of the previous
# release: oasdiff compares it with the document of the newest git tag
# that has one or, before any tag has one, of the first commit that added
# it. OPENAPI_BASE=<rev> compares with another revision instead.
#
# Usage (from the repository root): bash internal/web/assets/openapi-breaking.sh
# OASDIFF is the command to run (the Makefile pins its version).
set -euo pipefail
doc=internal/web/openapi.json
read -r -a oasdiff <<<"${OASDIFF:?set OASDIFF to the oasdiff command, e.g. go run github.com/oasdiff/oasdiff@VERSION}"

# Without history there is nothing to compare with; in CI that is an error
# (a clone too shallow for the check), on a developer's copy a notice.
no_history() {
  echo "openapi-breaking: $1" >&2
  if [ "${CI:-}" = true ]; then
    echo "openapi-breaking: CI needs the git history and tags (e.g. git fetch --unshallow --tags)" >&2
    exit 1
  fi
  echo "openapi-breaking: breaking-change check NOT run" >&2
  exit 0
}
git rev-parse --git-dir >/dev/null 2>&1 || no_history "not a git checkout"
[ "$(git rev-parse --is-shallow-repository)" = false ] || no_history "shallow clone: the previous document may be missing"

base=${OPENAPI_BASE:-}
what="revision $base (OPENAPI_BASE)"
if [ -z "$base" ]; then
  # Newest tag first (by the date of the commit it names).
  while read -r tag; do
    if git cat-file -e "$tag:$doc" 2>/dev/null; then
      base=$tag
      what="tag $tag"
      break
    fi
  done < <(git tag --merged HEAD --sort=-committerdate)
fi
if [ -z "$base" ]; then
  base=$(git log --diff-filter=A --format=%H -- "$doc" | tail -n 1)
  what="commit ${base:0:12}, the first with $doc (no tag has one yet)"
fi
if [ -z "$base" ]; then
  echo "openapi-breaking: no previous document: no tag and no commit has $doc yet, so nothing can break; the first commit of it becomes the base"
  exit 0
fi

old=$(mktemp --suffix=.json)
trap 'rm -f "$old"' EXIT
git show "$base:$doc" >"$old"
echo "openapi-breaking: $doc against $what"
# ERR-level changes fail (removed operations, responses or properties, new
# required request fields, narrowed types...); WARN and INFO are listed.
"${oasdiff[@]}" breaking --fail-on ERR "$old" "$doc"
echo "openapi-breaking: no breaking change"
