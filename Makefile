# Sightline: `make help` lists the targets.
SHELL := /bin/bash
BUF := tools/node_modules/.bin/buf
GOTOOL := go tool -modfile=tools/go.mod
TEST_TIMEOUT ?= 15m

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: run
run: ## run the whole local stack (PostgreSQL, both services) and print grpcurl commands; Ctrl-C stops it
	bash scripts/run-local.sh

.PHONY: test
test: ## run every test (needs PostgreSQL binaries; see README)
	go test -count=1 -timeout $(TEST_TIMEOUT) ./...

.PHONY: test-race
test-race: ## run every test with the race detector
	go test -count=1 -race -timeout 30m ./...

.PHONY: tools
tools: $(BUF) ## install the pinned tools (buf from npm; Go tools build on first use)

# npm install (not npm ci): the registry mirror reached here lacks buf's
# binaries for other platforms, so the lockfile cannot list them and npm ci
# refuses it. npm install follows the lockfile for everything it does list.
$(BUF): tools/package.json tools/package-lock.json
	cd tools && timeout 300 npm install --no-audit --no-fund --loglevel=error
	touch $(BUF)

.PHONY: generate
generate: $(BUF) ## regenerate pkg/gen from proto/ (buf, local plugins)
	$(BUF) generate

.PHONY: check-generate
check-generate: generate ## fail when generated code differs from the protos
	@git diff --exit-code -- pkg/gen || { echo "pkg/gen is out of date: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- pkg/gen)" || { git status --porcelain -- pkg/gen; echo "untracked generated files: run 'make generate' and commit"; exit 1; }

.PHONY: lint
lint: $(BUF) ## gofmt, go vet, buf lint and buf breaking against the previous commit
	@out="$$(gofmt -l $$(git ls-files '*.go' | grep -v '^pkg/gen/'))"; test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	go vet ./...
	$(BUF) lint
	bash scripts/buf-breaking.sh

.PHONY: fuzz-short
fuzz-short: ## run every fuzz target briefly (FUZZTIME, default 10s each)
	bash scripts/fuzz.sh $${FUZZTIME:-10s}

.PHONY: bench
bench: ## run the load scenarios on the local stack (10 s each; visibility scales 1 and 10, mailbox 1,000,000 messages) into bench/results.json
	go build -o .local/bin/sightline-load ./bench/cmd/sightline-load
	bash scripts/run-local.sh --exec .local/bin/sightline-load --duration 10s --concurrency 1,8,32 --scales 1,10 --mailbox-scale 1 --json bench/results.json

.PHONY: bench-quick
bench-quick: ## every load scenario briefly, mailbox at 10,000 messages (CI: checks they run without errors, never a speed)
	go build -o .local/bin/sightline-load ./bench/cmd/sightline-load
	bash scripts/run-local.sh --exec .local/bin/sightline-load --duration 1s --concurrency 1,8 --scales 1 --mailbox-scale 0.01 --json .local/bench-quick.json

.PHONY: build
build: ## build both binaries into bin/
	go build -trimpath -o bin/ ./services/visibility/cmd/visibility ./services/mailbox/cmd/mailbox

.PHONY: k8s-check
k8s-check: ## build the kustomizations in deploy/k8s and check them (own Go module; no cluster needed)
	cd deploy/k8s/check && go vet ./... && go test -count=1 ./... && go run .

.PHONY: ci
ci: tools lint check-generate test fuzz-short k8s-check ## what CI runs (plus the compose and local-stack checks in .ci/run)
