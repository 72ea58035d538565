# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast check lint types bench snapshots clean

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

# The edit-test loop: no desktop session, no tmux, a 3 s concurrency soak instead of 30 s.
test-fast: $(STAMP)
	ICECYCLE_SOAK_SECONDS=3 $(BIN)/python -m pytest -q -m "not desktop and not tmux" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check icecycle tests benchmarks
	$(BIN)/ruff check icecycle tests benchmarks
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy icecycle

check: lint types test

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Re-record the TUI snapshots after a deliberate change of the screens, and refresh the
# README's screenshots from them.
SNAPS := tests/__snapshots__/test_tui_snapshots
snapshots: $(STAMP)
	$(BIN)/python -m pytest -q tests/test_tui_snapshots.py --snapshot-update
	cp $(SNAPS)/test_ice_on.svg docs/screenshots/ice-on.svg
	cp $(SNAPS)/test_rest_alarm.svg docs/screenshots/rest-alarm.svg
	cp $(SNAPS)/test_towel_modal.svg docs/screenshots/towel.svg
	cp $(SNAPS)/test_honest_counts_and_the_strip.svg docs/screenshots/window-strip.svg
	cp $(SNAPS)/test_protected_rest_dialog.svg docs/screenshots/protected-rest.svg
	cp $(SNAPS)/test_held_schedule.svg docs/screenshots/held.svg

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
