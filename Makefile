# One command per task. Every target sets up what it needs itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?= ../shared/data

.PHONY: install demo test test-sqlite test-postgres lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Set up, load the real demo data and serve the board at http://$(HOST):$(PORT)
demo: install
	$(BIN)/dealgate demo --host $(HOST) --port $(PORT) $(DEMO_ARGS)

## Set up and run the whole test suite (DATABASE_URL picks the database)
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff format --check dealgate tests benchmarks
	$(BIN)/ruff check dealgate tests benchmarks

format: install
	$(BIN)/ruff format dealgate tests benchmarks
	$(BIN)/ruff check --fix dealgate tests benchmarks

bench: install
	$(BIN)/pip install --quiet -e '.[bench]'
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var
