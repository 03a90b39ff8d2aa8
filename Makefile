# Two entry points matter: `make run` (the main job on the embedded default) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The bundled example traffic covers Dec 2026 - Feb 2027; the demo is pinned to a moment before it.
EXAMPLE_NOW ?= 2026-11-23T09:00:00+08:00

.PHONY: run plan local package test test-fast lint typecheck unit browser bench openapi clean
STAGE ?= dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# What the main job needs (the Lambda's runtime requirements and the CLI), and what testing needs.
$(VENV)/.runtime: $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/pip install -q -r requirements.txt -e .
	touch $@

$(VENV)/.installed: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# The whole loop with no credentials: plan, remind, approve the first pending request, file it
# into the outbox folder, print its evidence. A second run finds nothing left to approve.
run: $(VENV)/.runtime
	$(BIN)/burst-assurance events import examples/events.ics --now $(EXAMPLE_NOW)
	$(BIN)/burst-assurance run --now $(EXAMPLE_NOW)
	$(BIN)/burst-assurance watch --now $(EXAMPLE_NOW)
	@id=$$($(BIN)/burst-assurance requests list --state pending --format ids | head -n 1); \
	if [ -n "$$id" ]; then set -e; \
	  $(BIN)/burst-assurance requests approve "$$id" --by demo --now $(EXAMPLE_NOW); \
	  $(BIN)/burst-assurance requests file "$$id" --by demo --now $(EXAMPLE_NOW); \
	  $(BIN)/burst-assurance requests evidence "$$id"; \
	fi

plan: $(VENV)/.runtime
	$(BIN)/burst-assurance plan --traffic examples/traffic/*.csv.gz --events examples/events.ics --now $(EXAMPLE_NOW)

# The API on http://127.0.0.1:8000 over the SQLite store and the example traffic. Its data lives
# outside the project tree: chalice local restarts on any change to a file inside it.
LOCAL_DATA ?= $(HOME)/.local/share/burst-assurance/local
local: $(VENV)/.installed
	mkdir -p $(LOCAL_DATA)
	BURST_ASSURANCE_DATA_DIR=$(LOCAL_DATA) \
	BURST_ASSURANCE_API_TOKEN=$${BURST_ASSURANCE_API_TOKEN:-dev-token} \
	BURST_ASSURANCE_ICAL_TOKEN=$${BURST_ASSURANCE_ICAL_TOKEN:-dev-feed-token} \
	BURST_ASSURANCE_WORK_QUEUE=$${BURST_ASSURANCE_WORK_QUEUE:-thread} \
	$(BIN)/chalice local --stage local --port 8000

# The CloudFormation template and zips for a stage (see infra/README.md to deploy them).
package: $(VENV)/.installed
	@test -n "$${AWS_REGION:-$$AWS_DEFAULT_REGION}" || \
	  { echo "make package: set AWS_REGION (or AWS_DEFAULT_REGION) to the region to deploy to" >&2; exit 2; }
	$(BIN)/python infra/package.py --stage $(STAGE) --merge-template infra/template.json build/$(STAGE)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# The page tests drive a real headless browser: Debian's chromium.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

unit: $(VENV)/.installed browser
	$(BIN)/pytest

test: lint typecheck unit

# Seconds, not minutes: the domain and workflow tests, no DynamoDB Local, no servers, no packaging.
FAST_TESTS = tests/test_architecture.py tests/test_workdays.py tests/test_deadlines.py \
	tests/test_traffic.py tests/test_billing.py tests/test_rules.py tests/test_planner.py \
	tests/test_ical.py tests/test_workflows.py tests/test_cli.py
test-fast: $(VENV)/.installed
	$(BIN)/pytest -m "not dynamodb and not slow" $(FAST_TESTS)

openapi: $(VENV)/.installed
	$(BIN)/python -m chalicelib.entry.api.openapi > openapi.json

# Every benchmark against its targets (--check); all run, then make fails if any missed.
bench: $(VENV)/.installed requirements-bench.txt
	$(BIN)/pip install -q -r requirements-bench.txt
	@missed=; for name in bench_rules bench_end_to_end bench_cold_start bench_package bench_cycles; do \
	  test -f benchmarks/$$name.py || continue; \
	  echo "== benchmarks/$$name.py --check"; \
	  extra=; test $$name = bench_cold_start && extra=--dynamodb; \
	  $(BIN)/python benchmarks/$$name.py --check $$extra || missed="$$missed $$name"; \
	done; \
	test -z "$$missed" || { echo "make bench: missed targets:$$missed" >&2; exit 1; }

clean:
	rm -rf $(VENV) data build .pytest_cache .mypy_cache .ruff_cache .hypothesis
