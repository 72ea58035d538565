# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check lint types bench snapshots clean

# (Re)install when the venv is missing or pyproject.toml changed.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/icecycle $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check icecycle tests benchmarks
	$(BIN)/ruff check icecycle tests benchmarks

types: $(STAMP)
	$(BIN)/mypy icecycle

check: lint types test

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Re-record the TUI snapshots after a deliberate change of the screens.
snapshots: $(STAMP)
	$(BIN)/python -m pytest -q tests/test_tui_snapshots.py --snapshot-update

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
