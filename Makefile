# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= data

.PHONY: run test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# setup.py builds the C extensions (retrieval/*.c, *.h): a change to any of them, or to setup.py, reinstalls.
$(VENV)/.installed: pyproject.toml setup.py $(wildcard retrieval/*.c retrieval/*.h) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

## Ingest data/ into the default database, then start the bot (TELEGRAM_BOT_TOKEN set)
## or an interactive question prompt in the terminal (no token).
run: $(VENV)/.installed
	@$(BIN)/newsbot ingest --quiet $(DATA)
	@$(BIN)/newsbot start

## Install dev dependencies, lint, and run the whole test suite.
test: $(VENV)/.installed-dev
	$(BIN)/ruff check bot retrieval tests benchmarks
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check bot retrieval tests benchmarks

clean:
	rm -rf $(VENV) data/*.db data/*.db-* data/*.npz
