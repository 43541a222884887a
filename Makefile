# The two commands a newcomer needs: `make run` and `make test`.
# Everything else is optional tooling; `.ci/run` runs it all.

GO        ?= go
# go.mod names the Go release it needs (a patch newer than many installs); the
# go command fetches that toolchain through the module proxy on first use
# (checksum-verified; ~5 s) instead of failing. Go's own default (go.env, and
# the official golang image) is GOTOOLCHAIN=local.
export GOTOOLCHAIN ?= auto
# The buildinfo package's import path, read from the code so a renamed copy
# (gonew) stamps its own; evaluated only by targets that link.
# (GOTOOLCHAIN is passed by hand: make before 4.4 does not export to $(shell).)
BUILDINFO  = $(or $(shell GOTOOLCHAIN=$(GOTOOLCHAIN) $(GO) list ./internal/buildinfo 2>/dev/null),$(error cannot resolve ./internal/buildinfo with '$(GO) list'))
VERSION   ?= $(shell git describe --always --tags --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS    = -s -w -X $(BUILDINFO).Version=$(VERSION) -X $(BUILDINFO).Commit=$(COMMIT)
# A count of executions, not a duration: with a duration, Go 1.26's fuzz
# coordinator can fail a clean run with "context deadline exceeded" when the
# time runs out while a worker is busy on a loaded machine (golang/go#75804,
# fixed in Go 1.27). 100000 runs take 10 to 40 s per target here.
FUZZTIME  ?= 100000x
# Pinned; `go run pkg@version` keeps the linter's dependencies out of go.mod.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
# The API contract's breaking-change check, pinned like staticcheck.
OASDIFF     ?= $(GO) run github.com/oasdiff/oasdiff@v1.39.0
# The front end's Node.js tools (openapi-typescript, TypeScript, Spectral),
# pinned in package.json and package-lock.json beside the browser sources,
# installed by `npm ci` into bin/ (ignored by git and the image build).
ASSETS      = internal/web/assets
NODE_TOOLS  = bin/node-tools
NODE_BIN    = $(CURDIR)/$(NODE_TOOLS)/node_modules/.bin

.PHONY: run test vet lint vuln fmt-check build test-fuzz test-container test-browser test-frontend check-frontend test-all assets api-types screenshots bench bench-scale clean-data help

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

run: ## run the app on http://localhost:8080 (starts a local PostgreSQL when DATABASE_URL is unset)
	@# Built, then exec'd: signals reach the runner directly, not through `go run`.
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/dev ./cmd/dev
	exec bin/dev

test: vet ## vet, then every test with the race detector (needs Go and a PostgreSQL server install)
	$(GO) test -race -count=1 ./...

vet: fmt-check
	$(GO) vet ./...
	$(GO) vet -tags browser ./e2e/
	$(GO) vet -tags container ./deploy/

lint: ## staticcheck every package, the browser and container tests included
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags browser ./e2e/
	$(STATICCHECK) -tags container ./deploy/

vuln: ## govulncheck every package and test binary against a snapshot of the Go vulnerability database
	GO='$(GO)' bash tools/vulncheck.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

build: ## build the server (which also migrates: server migrate) and the framework main into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/server ./cmd/functions

test-fuzz: ## run each fuzz target for FUZZTIME (default 100000x: executions)
	$(GO) test -run='^$$' -fuzz='^FuzzParseGroups$$' -fuzztime=$(FUZZTIME) ./internal/auth/
	$(GO) test -run='^$$' -fuzz='^FuzzProxyHeaders$$' -fuzztime=$(FUZZTIME) ./internal/auth/
	$(GO) test -run='^$$' -fuzz='^FuzzVerifyToken$$' -fuzztime=$(FUZZTIME) ./internal/auth/

test-container: ## build the image with podman/buildah and test it (docs/deploy.md#docker-compose)
	bash .ci/container-test.sh

test-browser: ## browser end-to-end tests: headless Chromium against the real server (needs chromium)
	$(GO) test -race -tags browser -count=1 ./e2e/

screenshots: ## refresh docs/screenshots, shown in README.md and docs/front-end.md (needs chromium)
	SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(GO) test -tags browser -count=1 -run '^TestBrowserScreenshots$$' ./e2e/

assets: ## rebuild internal/web/static after changing internal/web/assets/src
	$(GO) generate ./internal/web/...

# npm ci again only when the lock file changed (npm writes the copy below).
$(NODE_TOOLS)/node_modules/.package-lock.json: $(ASSETS)/package.json $(ASSETS)/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 18+ and npm (Debian: apt-get install nodejs npm)"; exit 1; }
	mkdir -p $(NODE_TOOLS)
	cp $(ASSETS)/package.json $(ASSETS)/package-lock.json $(NODE_TOOLS)/
	cd $(NODE_TOOLS) && npm ci --ignore-scripts --no-audit --no-fund

api-types: $(NODE_TOOLS)/node_modules/.package-lock.json ## regenerate internal/web/assets/src/openapi.d.ts from internal/web/openapi.json (needs Node.js 18+ and npm)
	cd $(ASSETS) && $(NODE_BIN)/openapi-typescript ../openapi.json --output src/openapi.d.ts

test-frontend: check-frontend ## the API contract and the TypeScript: check-frontend, then breaking changes against the last release (oasdiff; needs the git history)
	OASDIFF='$(OASDIFF)' bash $(ASSETS)/openapi-breaking.sh

check-frontend: $(NODE_TOOLS)/node_modules/.package-lock.json ## Spectral on the OpenAPI document, generated types current, tsc --strict (needs Node.js 18+ and npm)
	cd $(ASSETS) && $(NODE_BIN)/spectral lint --fail-severity=warn ../openapi.json
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  (cd $(ASSETS) && $(NODE_BIN)/openapi-typescript ../openapi.json --output "$$tmp/openapi.d.ts" >/dev/null) && \
	  if diff -u $(ASSETS)/src/openapi.d.ts "$$tmp/openapi.d.ts"; then echo "$(ASSETS)/src/openapi.d.ts is current"; \
	  else echo "$(ASSETS)/src/openapi.d.ts is stale: run make api-types"; exit 1; fi
	cd $(ASSETS) && $(NODE_BIN)/tsc --strict --noEmit --project tsconfig.json

test-all: test lint vuln test-fuzz test-browser test-container test-frontend ## everything CI runs

bench: ## load-test /healthz and /api/items against bare baselines (needs wrk; tools/loadtest/README.md)
	$(GO) run ./tools/loadtest

bench-scale: ## search, pages and inserts at 1,000,000 items, store and HTTP, vs the targets in docs/performance.md (minutes; not in CI)
	$(GO) run ./tools/benchscale

clean-data: ## delete the local PostgreSQL data of `make run`
	rm -rf .data
