# The verbs of the project. `make run` and `make test` each do all their own set-up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, else a private copy installed on first use (no global installs needed).
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help run demo test lint typecheck format bench bench-api bench-ingest bench-queue bench-soak sync migrate clean

# pangeo-forge-runner lives in its own venv: it pulls apache-beam, whose pins clash with ours.
RUNNER_VERSION := 0.10.2
RUNNER := .tools/runner/bin/pangeo-forge-runner
# What `run` and `demo` bake with, unless the environment names another runner.
WITH_RUNNER := PFO_RUNNER_COMMAND="$${PFO_RUNNER_COMMAND:-$(abspath $(RUNNER))}"

help:  ## List the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

$(RUNNER):
	python3 -m venv .tools/runner
	.tools/runner/bin/pip install --quiet pangeo-forge-runner==$(RUNNER_VERSION)

sync: $(UV)  ## Create .venv from the lockfile
	$(UV) sync --frozen --quiet

migrate: sync  ## Apply migrations (embedded Postgres unless DATABASE_URL is set)
	$(UV) run --frozen pfo migrate

run: migrate $(RUNNER)  ## Serve on 127.0.0.1:8000 with a worker (sandbox GitHub unless an App is set)
	$(WITH_RUNNER) $(UV) run --frozen pfo serve --host $(HOST) --port $(PORT)

demo: sync $(RUNNER)  ## The whole story on this machine, checked step by step (docs/try-it-locally.md)
	$(WITH_RUNNER) $(UV) run --frozen pfo demo --port $(PORT)

lint: sync  ## ruff, import-linter contracts
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports

typecheck: sync  ## mypy --strict on the package
	$(UV) run --frozen mypy pangeo_forge_orchestrator

test: lint typecheck $(RUNNER)  ## Lint, type-check, then the whole test suite on an embedded Postgres
	@mkdir -p .pfo  # pytest makes its --basetemp, not the folders above it
	$(UV) run --frozen pytest --basetemp=.pfo/pytest

format: sync  ## Apply ruff's formatting and fixes
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

bench: bench-api bench-ingest bench-queue  ## Benchmarks (results go to docs/benchmarks.md by hand)

bench-api: sync  ## REST API on 1M recipe runs; BENCH_ARGS="--help" lists the options
	$(UV) run --frozen python -m bench.api $(BENCH_ARGS)

bench-ingest: sync  ## Webhook ingest, web and worker apart as deployed; INGEST_ARGS="--help"
	$(UV) run --frozen python -m bench.ingest $(or $(INGEST_ARGS),--worker-process)

bench-queue: sync  ## No-op jobs/s, enqueue->start latency, a stalled job re-claimed
	$(UV) run --frozen python -m bench.queue

bench-soak: sync  ## Kill web and worker 24 times under 11,000 deliveries; 0 lost, 0 duplicated
	$(UV) run --frozen python -m bench.soak $(BENCH_ARGS)

clean:  ## Remove local state (.pfo holds the embedded database)
	rm -rf .pfo .venv .tools
