# Two commands matter: `make run` (serve the embedded demo) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean browser

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

## browser: Debian's Chromium and a CJK font for the end-to-end tests, and poppler-utils to read
## PDFs back, installed when missing (as root)
# Playwright drives this Chromium; it never downloads a browser of its own.
BROWSER_PACKAGES := chromium fonts-wqy-microhei poppler-utils

browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -q . || ! command -v pdftoppm >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing $(BROWSER_PACKAGES)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; \
		else \
			echo "the browser tests need: apt-get install $(BROWSER_PACKAGES)" >&2; \
		fi; \
	fi

## test: lint, then the suite on SQLite, then on PostgreSQL when MARKET_TEST_DATABASE_URL is set
# Four workers (pytest-xdist) sharing the tests as they go (much of a test's time is spent waiting
# on a database or a server); on PostgreSQL each worker has its own database. The schema fuzz
# (marker `fuzz`) runs once: on PostgreSQL when it is set, else on SQLite. The browser tests
# (marker `browser`, their own SQLite demo server) run once, in the SQLite pass.
PYTEST := $(BIN)/pytest -n 4 --dist worksteal --durations=15

test: $(VENV)/.dev browser
	$(BIN)/ruff check .
	@if [ -n "$$MARKET_TEST_DATABASE_URL" ]; then \
		env -u MARKET_TEST_DATABASE_URL $(PYTEST) -m "not fuzz" && \
		echo "== again on $$MARKET_TEST_DATABASE_URL, with the schema fuzz ==" && \
		$(PYTEST) -m "not browser"; \
	else \
		$(PYTEST); \
	fi

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
