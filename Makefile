# The verbs of the project. `make run` and `make test` each do all their own set-up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, else a private copy installed on first use (no global installs needed).
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help run test lint typecheck format bench bench-api sync migrate clean

help:  ## List the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

sync: $(UV)  ## Create .venv from the lockfile
	$(UV) sync --frozen --quiet

migrate: sync  ## Apply migrations (embedded Postgres unless DATABASE_URL is set)
	$(UV) run --frozen pfo migrate

run: migrate  ## Serve on 127.0.0.1:8000 with a worker (embedded Postgres, local bakery)
	$(UV) run --frozen pfo serve --host $(HOST) --port $(PORT)

lint: sync  ## ruff, import-linter contracts
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports

typecheck: sync  ## mypy --strict on the package
	$(UV) run --frozen mypy pangeo_forge_orchestrator

test: lint typecheck  ## Lint, type-check, then the whole test suite on an embedded Postgres
	$(UV) run --frozen pytest

format: sync  ## Apply ruff's formatting and fixes
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

bench: sync  ## Benchmarks (results go to docs/benchmarks.md by hand)
	$(UV) run --frozen python -m bench.api

clean:  ## Remove local state (.pfo holds the embedded database)
	rm -rf .pfo .venv .tools
