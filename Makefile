# xmo — run `make help` for the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=
PYTEST_ARGS ?= -n auto --dist loadfile

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.runtime-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.runtime-installed

.PHONY: help
help: ## Show the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

.PHONY: install
install: $(VENV)/.runtime-installed ## Create .venv and install xmo

.PHONY: demo
demo: $(VENV)/.runtime-installed ## Run the end-to-end demo on a fresh XMO_HOME (ARGS=--no-serve to stop at the summary)
	$(BIN)/xmo demo $(ARGS)

.PHONY: test
test: $(VENV)/.dev-installed ## Run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: bench
bench: $(VENV)/.dev-installed ## Run every benchmark (prints tables and one JSON line each)
	@set -e; for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script; done

.PHONY: lint
lint: $(VENV)/.dev-installed ## Ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy

.PHONY: format
format: $(VENV)/.dev-installed ## Format and auto-fix with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: clean
clean: ## Remove the virtual environment, caches and the demo's .xmo
	rm -rf $(VENV) .xmo .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
