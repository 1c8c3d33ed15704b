# The targets a person and CI use. `make test` needs nothing installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export TEST_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

.PHONY: test check demo bench screenshots clean

# (Re)install whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Storage tests run once on SQLite and once on PostgreSQL (TEST_DATABASE_URL); their ids end
# in [sqlite] and [postgresql]. With CI set, an unreachable PostgreSQL fails the run.
test: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider

# Speed and scale: every bench within its time budget (bench/run.py; under 20 minutes on 2
# cores, PostgreSQL at BENCH_POSTGRES_URL), loopback only; it rewrites docs/benchmarks.md from
# the results (bench/results/, gitignored) and bench/templates/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python bench/run.py

# Refresh the pictures in docs/screenshots/: the connect pages, the emulated Slack, and
# `scrumy demo --serve` (the browser tests take them; one database backend is enough).
screenshots: $(STAMP)
	SCRUMY_SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -p no:cacheprovider \
	  -q tests/sidecar/test_browser.py tests/sandbox/test_slack_web.py \
	  tests/demo/test_serve_browser.py -k 'sqlite or test_serve_browser'

# ruff, mypy --strict, and the import contracts of pyproject.toml (the layers of DEVELOPERS.md).
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# The whole product on this machine: emulated Slack, ClickUp and Notion and the real app on
# 127.0.0.1, a scripted story, the final table (`scrumy demo --serve` keeps it all running).
demo: $(STAMP)
	$(BIN)/scrumy demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
