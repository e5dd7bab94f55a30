# Two commands set everything up: `make run` (gateway on the embedded defaults) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint typecheck migrate bench bench-events clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m app.cli serve

migrate: $(STAMP)
	$(BIN)/python -m app.cli migrate

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/pytest

# The fast lane (under a minute): unit, contract on SQLite and the memory counters, and the
# in-process proxy (tests/inproc); no PostgreSQL, Redis or gunicorn. `make test` runs everything.
test-fast: $(STAMP)
	$(BIN)/pytest -q tests/unit tests/contract tests/inproc -m "not postgres and not redis and not slow"

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-events: $(STAMP)
	$(BIN)/python -m bench.events_scale

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
