# One command per check. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: help venv postgres test lint demo bench clean

help:
	@echo "make demo   run Alpine, the generator and the relay for ~30 s and show signals arriving"
	@echo "make test   install, make sure PostgreSQL is up, run the test suite"
	@echo "make lint   ruff, mypy (strict), import-linter contracts"
	@echo "make bench  benchmarks (tests/bench)"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

venv: $(BIN)/.installed

postgres: venv
	@PYTHON=$(BIN)/python scripts/ensure-postgres.sh

test: venv postgres
	$(BIN)/pytest -m "not soak and not bench" $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

demo: venv
	$(BIN)/python scripts/demo.py

bench: venv postgres
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) demo-run bench-results .pytest_cache .mypy_cache .ruff_cache
