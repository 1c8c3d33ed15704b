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

# Speed and scale, written up in docs/benchmarks.md (needs PostgreSQL for its last three parts).
# exactly_once.py runs its small sizes here (a few minutes, each scenario with a deadline);
# `--full` is the 10,000-task run.
bench: $(STAMP)
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/owners.py
	$(BIN)/python bench/reconcile.py
	$(BIN)/python bench/calls_per_task.py
	$(BIN)/python bench/rate_limits.py
	$(BIN)/python bench/slack_ack.py
	$(BIN)/python bench/api_fuzz.py
	$(BIN)/python bench/http_api.py
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/exactly_once.py
	$(BIN)/python bench/flush.py

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
