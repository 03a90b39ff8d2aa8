# Two entry points matter: `make run` (the main job on the embedded default) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The bundled example traffic covers Dec 2026 - Feb 2027; the demo is pinned to a moment before it.
EXAMPLE_NOW ?= 2026-11-23T09:00:00+08:00

.PHONY: run plan test lint typecheck unit bench openapi clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt pyproject.toml
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(BIN)/burst-assurance events import examples/events.ics
	$(BIN)/burst-assurance run --now $(EXAMPLE_NOW)

plan: $(VENV)/.installed
	$(BIN)/burst-assurance plan --traffic examples/traffic/*.csv.gz --events examples/events.ics --now $(EXAMPLE_NOW)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest

test: lint typecheck unit

openapi: $(VENV)/.installed
	$(BIN)/python -m chalicelib.api > openapi.json

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_rules.py

clean:
	rm -rf $(VENV) data build .pytest_cache .mypy_cache .ruff_cache .hypothesis
