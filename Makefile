# Two commands set everything up: `make run` (gateway on the embedded defaults) and `make test`.
# `make run` installs the gateway only (not editable: an editable install of this flat layout
# prints a setuptools warning; the servers import the checkout anyway, run from its root);
# `make test` (and lint, typecheck) installs it editable with the test tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

.PHONY: run test test-fast lint typecheck migrate bench bench-events bench-keys clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet .
	touch $(RUN_STAMP)

$(STAMP): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/python -m app.cli serve

migrate: $(RUN_STAMP)
	$(BIN)/python -m app.cli migrate

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

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

bench-keys: $(STAMP)
	$(BIN)/python -m bench.keys_scale

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
