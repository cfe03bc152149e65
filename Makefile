# The two commands a fresh machine needs: `make run` and `make test`. Only Python 3.11+ is assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck pytest install dev serve migrate demo clean bench

run: install migrate demo serve  ## create .venv, install, migrate, load demo data, serve on :8000

test: dev lint typecheck pytest  ## ruff, mypy and the whole pytest suite

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "backoffice needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/backoffice db upgrade

demo: install
	$(BIN)/backoffice demo load

serve: install
	$(BIN)/backoffice serve --host $(HOST) --port $(PORT)

lint: dev
	$(BIN)/ruff check src tests bench loadtest
	$(BIN)/ruff format --check src tests bench loadtest

typecheck: dev
	$(BIN)/mypy

pytest: dev
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
