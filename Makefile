# statsapi: each target is a one-liner you could type by hand.
# `make run` starts the embedded server (SQLite + in-memory TSDB, demo data) on 127.0.0.1:8000.
# `make test` runs lint, type checks and the whole test suite against local PostgreSQL and Redis.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint fmt typecheck compose-check bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("statsapi needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

var/secret_key:
	mkdir -p var && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@

run: $(VENV)/.runtime-installed var/secret_key
	STATSAPI_EMBEDDED=True SECRET_KEY="$$(cat var/secret_key)" $(BIN)/python manage.py migrate --noinput -v 0
	STATSAPI_EMBEDDED=True SECRET_KEY="$$(cat var/secret_key)" exec $(BIN)/gunicorn -c statsapi/gunicorn_embedded.py statsapi.wsgi:application

test: lint
	$(BIN)/pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict tsdb

fmt: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

compose-check:
	docker-compose config -q

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/tsdb_bench.py && $(BIN)/python bench/ingest_bench.py && $(BIN)/python bench/stats_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
