# Muhtar Bilgi Sistemi — the two commands of the README, and a few helpers.
#
#   make run    create/update .venv, then run the whole system on the embedded default
#   make test   create/update .venv, then ruff, mypy and the whole pytest suite
#
# Needs only Python 3.11 on PATH (PYTHON=/path/to/python3.11 to choose another). The virtual environment is
# reinstalled only when pyproject.toml changes (stamp file .venv/.installed), so re-running is fast.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint venv chromium

run: $(STAMP)
	$(BIN)/muhtar run

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/mypy workflow/
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy workflow/

venv: $(STAMP)

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then echo "make: Python 3.11 not found on PATH (install python3.11 or set PYTHON=...)" >&2; exit 1; fi
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
	  echo "make: $(PYTHON) is $$($(PYTHON) --version 2>&1), this project needs Python 3.11 (set PYTHON=...)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# The browser tests drive Debian's chromium (Playwright cannot download browsers here).
# A prerequisite of `test` (tests/webui/test_browser.py fails in CI without it).
chromium:
	@if [ -x /usr/bin/chromium ]; then \
	  true; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
	elif [ "$$CI" = true ]; then \
	  echo "make: /usr/bin/chromium is missing and is required in CI (apt-get install chromium as root)" >&2; exit 1; \
	else \
	  echo "note: /usr/bin/chromium is missing; browser tests will not run here (sudo apt-get install chromium)" >&2; \
	fi
