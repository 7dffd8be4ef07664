# Two commands set everything up on a fresh machine (only Python 3.11 and make needed):
#   make demo   run cookbook recipe 1 (three tenants, three generated plans) on SQLite, offline
#   make test   ruff, mypy and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# demo.db is kept afterwards, for `agentflow review list --db sqlite:///demo.db` and friends; each
# demo starts from an empty store.
demo: $(STAMP)
	rm -f demo.db demo.db-wal demo.db-shm
	$(BIN)/python cookbook/01_multi_tenant/run.py --db sqlite:///demo.db

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -q

# `make bench BENCH_ARGS=` runs bench/compare.py in full (about half an hour); it creates
# bench/peers/.venv (DBOS, LangGraph, pinned) on first use.
BENCH_ARGS ?= --quick
bench: $(STAMP)
	$(BIN)/python bench/compare.py $(BENCH_ARGS)
	$(BIN)/python bench/compile.py
	$(BIN)/python bench/runtime.py
	$(BIN)/python bench/planner.py
	$(BIN)/python bench/isolation.py

clean:
	rm -rf $(VENV) demo.db demo.db-wal demo.db-shm .pytest_cache .mypy_cache .ruff_cache
