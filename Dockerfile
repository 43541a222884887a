# Container image of the service: the same image runs under `docker compose up`,
# in CI (.ci/container-test.sh) and on Cloud Run.
#
# Base images are pinned by digest so a rebuild of an old commit gets the same
# bytes and a compromised tag cannot slip into a release. They are build ARGs so
# a build can substitute them (CI passes local stand-ins; a mirror can be used).
# Renovate (renovate.json) proposes digest updates; CI must pass before merge.
# By hand: `crane digest golang:1.26-bookworm` (or `docker buildx imagetools
# inspect`), then update the ARG here and _GO_IMAGE in cloudbuild.yaml.
ARG GO_IMAGE=golang:1.26-bookworm@sha256:9fdc884aacc3bec89b20ffc69f4bb369c78210e3e4f600387b5128b12c199f81
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab

FROM ${GO_IMAGE} AS build
WORKDIR /src
# go.mod's go line names the minimum toolchain. If the pinned image carries an
# older Go 1.26.x, "auto" lets the go command fetch exactly that toolchain
# (verified against the checksum database) instead of failing the build.
ENV CGO_ENABLED=0 GOTOOLCHAIN=auto

# Modules first, in their own layer: it is rebuilt only when go.mod or go.sum
# change, not on every source edit.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
# VERSION and COMMIT are what /healthz reports (internal/buildinfo).
ARG VERSION=dev
ARG COMMIT=unknown
# The module path comes from go.mod, so a copy renamed with gonew still stamps.
RUN mod=$(go list -m) \
 && ldflags="-s -w -X ${mod}/internal/buildinfo.Version=${VERSION} -X ${mod}/internal/buildinfo.Commit=${COMMIT}" \
 && go build -trimpath -ldflags "$ldflags" -o /out/server ./cmd/server

# distroless/static: CA certificates, tzdata, /etc/passwd with nonroot; no shell,
# no package manager. The Go binaries are static (CGO_ENABLED=0).
FROM ${RUNTIME_IMAGE}
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="example-function" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
# Only the server: `server migrate` is the release's migration job (a Cloud
# Run job of this same image), and locally the server can migrate at start
# (DB_MIGRATE).
COPY --from=build /out/server /usr/local/bin/server
USER 65532:65532
ENV PORT=8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/server"]
