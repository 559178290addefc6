# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint format sandbox bench bench-quick bench-inprocess docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Run the whole product locally: site, sandbox CRM, Celery worker and beat (Ctrl-C stops all).
demo: install
	DEBUG=1 $(BIN)/python manage.py demo

## Lint and type-check, then the whole test suite on the demo site's settings, then the app's in-process
## suites on tests/settings.py alone; then, when CRM_BRIDGE_TEST_POSTGRES_URL and CRM_BRIDGE_TEST_REDIS_URL
## are set (.ci/run sets them), the database- and broker-sensitive tests and the chaos suite again on PostgreSQL
## and Redis (the chaos suite restarts that Redis: docs/chaos.md).
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@# The chaos suite runs in the PostgreSQL + Redis pass below (docs/chaos.md); on the embedded default it would
	@# add minutes (a filesystem broker drains a backlog far slower than Redis: docs/chaos.md). Run it there by hand:
	@# `python -m pytest tests/chaos -m chaos`.
	$(BIN)/python -m pytest --ignore tests/chaos $(PYTEST_ARGS)
	@echo "== the reusable app on its own minimal settings (tests/settings.py) =="
	@# (test_cache_down.py exercises the demo site's Redis timeouts in config/settings.py, so it runs above only.)
	$(BIN)/python -m pytest --ds tests.settings tests/api tests/admin tests/crm tests/delivery \
	  --ignore tests/api/test_cache_down.py -m "not worker and not browser" -q $(PYTEST_ARGS)
	@if [ -n "$$CRM_BRIDGE_TEST_POSTGRES_URL" ] && [ -n "$$CRM_BRIDGE_TEST_REDIS_URL" ]; then \
	  echo "== again on PostgreSQL and Redis =="; \
	  DATABASE_URL="$$CRM_BRIDGE_TEST_POSTGRES_URL" \
	  CELERY_BROKER_URL="$$CRM_BRIDGE_TEST_REDIS_URL/0" \
	  CACHE_URL="$$CRM_BRIDGE_TEST_REDIS_URL/1" \
	  $(BIN)/python -m pytest tests/delivery tests/api tests/chaos $(PYTEST_ARGS); \
	else \
	  echo "PostgreSQL/Redis pass skipped: set CRM_BRIDGE_TEST_POSTGRES_URL and CRM_BRIDGE_TEST_REDIS_URL (.ci/run does)"; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## The sandbox CRM alone, on port 8765 (a development tool: DEBUG=1, as for the demo; docs/deploying.md).
sandbox: install
	DEBUG=1 $(BIN)/python manage.py migrate --no-input -v0
	DEBUG=1 $(BIN)/python manage.py crm_sandbox --port 8765

## The real-server benchmark (bench/real.py, docs/benchmarks.md): gunicorn serving the site, load from another
## process, each figure against its floor; a table, then name=value lines. On PostgreSQL + Redis when
## CRM_BRIDGE_TEST_POSTGRES_URL and CRM_BRIDGE_TEST_REDIS_URL are set (BENCH_ARGS=--sqlite to stay on SQLite).
## Full: about 10 minutes; quick: about 2.
bench: install
	$(BIN)/python -m bench.real $(BENCH_ARGS)

bench-quick: install
	$(BIN)/python -m bench.real --quick $(BENCH_ARGS)

## The in-process benchmark (Django's test client, no server): a profiling aid, not the figures of record.
bench-inprocess: install
	$(BIN)/python -m bench

## Regenerate the reference pages in docs/reference/ from the code (tests/test_docs.py checks they are fresh).
docs: install
	$(BIN)/python -m tools.docgen

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
