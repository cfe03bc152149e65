# The two commands a fresh machine needs: `make run` and `make test`. Only Python 3.11+ is assumed;
# `make dev` (so `make test`) also installs Debian's chromium when it is missing, for the headless
# test of /docs and /redoc (apt-get as root, or through sudo).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# HOST and PORT (make run PORT=9000) override the settings' HOST, PORT (.env), 127.0.0.1:8000.
CHROMIUM := /usr/bin/chromium

.PHONY: help run test lint typecheck pytest install dev serve migrate demo clean

run: install migrate demo serve  ## create .venv, install, migrate, load demo data, serve (127.0.0.1:8000)

test: dev lint typecheck pytest  ## ruff, mypy and the whole pytest suite

help:  ## list these targets
	@awk 'BEGIN { FS = ":[^#]*## " } /^[a-z][a-z-]*:.*## / { printf "  %-10s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

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

install: $(VENV)/.installed  ## create .venv and install the package

dev: $(VENV)/.installed-dev $(CHROMIUM)  ## install, plus the dev tools and Debian's chromium for the tests

migrate: install  ## apply every migration (embedded PostgreSQL unless DATABASE_URL is set)
	$(BIN)/backoffice db upgrade

demo: install  ## load the demo data (idempotent) and print the demo logins
	$(BIN)/backoffice demo load

serve: install  ## serve the API; prints its URL and the docs URL
	$(BIN)/backoffice serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

lint: dev  ## ruff check and ruff format --check
	$(BIN)/ruff check src tests bench loadtest
	$(BIN)/ruff format --check src tests bench loadtest

typecheck: dev  ## mypy (strict)
	$(BIN)/mypy

pytest: dev  ## the whole pytest suite (starts its own PostgreSQL)
	$(BIN)/pytest -q

clean:  ## remove .venv and the tools' caches (not .backoffice/, the embedded database)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
