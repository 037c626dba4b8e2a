# Two commands matter: `make run` (serve the embedded demo) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

## run: install, upgrade ./var/market.db, load the demo when empty, serve on http://127.0.0.1:8000
run: $(VENV)/.runtime
	$(BIN)/market db upgrade
	$(BIN)/market demo --if-empty
	$(BIN)/market serve

## test: lint, then the suite on SQLite, then on PostgreSQL when MARKET_TEST_DATABASE_URL is set
# Four workers (pytest-xdist) sharing the tests as they go (much of a test's time is spent waiting
# on a database or a server); on PostgreSQL each worker has its own database. The schema fuzz
# (marker `fuzz`) runs once: on PostgreSQL when it is set, else on SQLite.
PYTEST := $(BIN)/pytest -n 4 --dist worksteal --durations=15

test: $(VENV)/.dev
	$(BIN)/ruff check .
	@if [ -n "$$MARKET_TEST_DATABASE_URL" ]; then \
		env -u MARKET_TEST_DATABASE_URL $(PYTEST) -m "not fuzz" && \
		echo "== again on $$MARKET_TEST_DATABASE_URL, with the schema fuzz ==" && \
		$(PYTEST); \
	else \
		$(PYTEST); \
	fi

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
