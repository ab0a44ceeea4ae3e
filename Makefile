# One command per check. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# make test runs on two workers (pytest-xdist): its tests wait on processes and sockets
# more than they compute, and each has its own database, port and tmp_path.
# `make test PYTEST_WORKERS=0` runs them in this process, one after another.
PYTEST_WORKERS ?= 2

.PHONY: help venv postgres test lint demo bench faults clean

help:
	@echo "make demo   run Alpine, the generator and the relay for ~30 s and show signals arriving"
	@echo "make test   install, make sure PostgreSQL is up, run the test suite"
	@echo "make lint   ruff, mypy (strict), import-linter contracts"
	@echo "make bench  benchmarks (tests/bench)"
	@echo "make faults the fault matrix at full size (~45 min): table + bench-results/faults.json"

# Tests and linters need the [dev] extra; the demo needs only the runtime packages.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@ $(BIN)/.runtime

$(BIN)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@touch $@

venv: $(BIN)/.installed

postgres: venv
	@PYTHON=$(BIN)/python scripts/ensure-postgres.sh

test: venv postgres
	$(BIN)/pytest -m "not soak and not bench and not stress" -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

demo: $(BIN)/.runtime
	$(BIN)/python scripts/demo.py

bench: venv postgres
	$(BIN)/python -m tests.bench

faults: venv postgres
	@mkdir -p bench-results && rm -f bench-results/faults.jsonl
	FAULTS_SIZE=full FAULTS_REPORT=bench-results/faults.jsonl $(BIN)/pytest -m faults -s -q tests/faults $(PYTEST_ARGS); \
	status=$$?; $(BIN)/python -m tests.faults.report bench-results/faults.jsonl bench-results/faults.json; exit $$status

clean:
	rm -rf $(VENV) demo-run bench-results .pytest_cache .mypy_cache .ruff_cache
