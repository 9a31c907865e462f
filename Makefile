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

.PHONY: walkthrough
walkthrough: ## run README.md's walkthrough against the demo and check every answer (starts make run's stack when none runs)
	bash scripts/walkthrough.sh --start

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

# Benchmarks (BENCHMARKS.md). `make bench` takes ~30 minutes on 2 shared cores, half of it seeding
# through the API (BENCH_MEMORY_COMPANIES=100 saves ~10); BENCH_DURATION and BENCH_RUNS trade time
# for noise. bench-quick is what CI runs: it checks that every scenario and
# the report run without errors, never a speed.
BENCH_DURATION ?= 5s
BENCH_RUNS ?= 3
BENCH_MEMORY_COMPANIES ?= 1000
BENCH_ARGS ?=
SOAK ?= 10m
SOAK_RATE ?= 200
BENCH_MICRO_PKGS := ./services/visibility/internal/policy ./services/visibility/internal/engine \
	./services/mailbox/internal/threading ./services/mailbox/internal/mime

# The load command and the report, built into .local/bin/ (a prerequisite of the targets below).
.PHONY: bench-build
bench-build:
	go build -o .local/bin/sightline-load ./bench/cmd/sightline-load
	cd bench/report && go build -o ../../.local/bin/sightline-report .

.PHONY: bench
bench: bench-build ## all load scenarios on the local stack (BENCH_RUNS x BENCH_DURATION each, visibility x1 and x10, memory, mailbox 1,000,000 messages) -> bench/results.json, BENCHMARKS.md tables, bench/charts
	bash scripts/run-local.sh --exec .local/bin/sightline-load --duration $(BENCH_DURATION) --runs $(BENCH_RUNS) \
		--concurrency 1,8,32 --scales 1,10 --mailbox-scale 1 --memory-companies $(BENCH_MEMORY_COMPANIES) \
		--visibility-metrics $${VIS_METRICS_ADDR:-127.0.0.1:9091} --json bench/results.json $(BENCH_ARGS)
	.local/bin/sightline-report --results bench/results.json --markdown BENCHMARKS.md --charts bench/charts

.PHONY: bench-report
bench-report: ## regenerate BENCHMARKS.md's tables and bench/charts from bench/results.json (no load)
	cd bench/report && go run . --results ../results.json --markdown ../../BENCHMARKS.md --charts ../charts

.PHONY: bench-quick
bench-quick: bench-build ## every load scenario briefly, and the report into .local/ (CI: checks they run without errors, never a speed)
	@set -e; st=0; bash scripts/run-local.sh --exec .local/bin/sightline-load --duration 1s --runs 1 --concurrency 1,8 --scales 1 \
		--mailbox-scale 0.01 --memory-companies 20 --visibility-metrics $${VIS_METRICS_ADDR:-127.0.0.1:9091} \
		--intake-messages 500 --intake-samples 8 --soak 10s --json .local/bench-quick.json || st=$$?; \
	test $$st -eq 0 || { echo "bench-quick: the load command failed (status $$st)"; exit $$st; }; \
	.local/bin/sightline-report --results .local/bench-quick.json --markdown BENCHMARKS.md \
		--out .local/bench-quick.md --charts .local/bench-quick-charts

.PHONY: bench-intake
bench-intake: bench-build ## the intake scenarios alone at full size (5,000-message IMAP sync, IDLE latency, Smart Bcc; BENCH_RUNS x BENCH_DURATION) -> bench/intake.json and BENCHMARKS.md's intake table
	bash scripts/run-local.sh --exec .local/bin/sightline-load --scales 0 --mailbox-scale 0 --duration $(BENCH_DURATION) \
		--runs $(BENCH_RUNS) --json bench/intake.json $(BENCH_ARGS)
	.local/bin/sightline-report --results bench/intake.json --markdown BENCHMARKS.md --sections intake

.PHONY: bench-soak
bench-soak: bench-build ## hold SOAK_RATE (200) requests/s of decisions, detail views, sharing and ingest for SOAK (10m) -> bench/soak.json and BENCHMARKS.md's soak section
	bash scripts/run-local.sh --exec .local/bin/sightline-load --soak-only --soak $(SOAK) --soak-rate $(SOAK_RATE) \
		--scales 1 --mailbox-scale 0.1 --json bench/soak.json $(BENCH_ARGS)
	.local/bin/sightline-report --results bench/soak.json --markdown BENCHMARKS.md --sections soak

.PHONY: bench-micro
bench-micro: ## Go micro-benchmarks of the hot paths (-count 6, benchstat-friendly) -> bench/micro.txt
	set -o pipefail; go test -run '^$$' -bench . -benchmem -count 6 -timeout 30m $(BENCH_MICRO_PKGS) | tee bench/micro.txt

.PHONY: build
build: ## build both binaries into bin/
	go build -trimpath -o bin/ ./services/visibility/cmd/visibility ./services/mailbox/cmd/mailbox

.PHONY: k8s-check
k8s-check: ## build the kustomizations in deploy/k8s and check them (own Go module; no cluster needed)
	cd deploy/k8s/check && go vet ./... && go test -count=1 ./... && go run .

.PHONY: ci
ci: tools lint check-generate test fuzz-short k8s-check ## what CI runs (plus the compose and local-stack checks in .ci/run)
