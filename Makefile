# The two commands a fresh machine needs: `make run` and `make test`. Only Python 3.11+ is assumed;
# `make dev` (so `make test`) also installs Debian's chromium when it is missing, for the headless
# test of /docs and /redoc (apt-get as root, or through sudo).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
CHROMIUM := /usr/bin/chromium

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

# Debian's chromium, which the headless test of /docs and /redoc drives through Playwright
# (Playwright's own browser download is never used). Installed only when missing.
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "$(CHROMIUM) is missing and this system has no apt-get: install Chromium so that $(CHROMIUM) runs it, then make again" >&2; exit 1; }
	@if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; \
	else echo "$(CHROMIUM) is missing: run 'apt-get update && apt-get install -y chromium' as root, then make again" >&2; exit 1; fi; \
	set -x; $$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev $(CHROMIUM)

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
