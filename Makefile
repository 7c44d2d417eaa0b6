# Every target does its own set-up: a fresh machine needs only python3 and pip.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mailcore-installed
PROJECT_FILES := pyproject.toml core/pyproject.toml $(wildcard plugins/*/pyproject.toml)

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)

.PHONY: install postfix test lint format demo docs fuzz bench clean browser screenshots redis

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv

$(STAMP): $(UV) $(PROJECT_FILES)
	@# Django stays out of .venv (mailkern-django needs it): the Django tests build
	@# their own venvs, one per Django version (tests/django/venvs.py).
	$(UV) sync --all-packages --quiet --no-install-package django
	@# Tests install core and plugins into throwaway venvs with --offline; one online
	@# install here records in uv's cache the wheel metadata those resolutions read.
	@probe=$$(mktemp -d) && $(UV) venv --quiet $$probe/venv && \
		$(UV) pip install --quiet --python $$probe/venv/bin/python ./core $(patsubst %/pyproject.toml,./%,$(wildcard plugins/*/pyproject.toml)) && \
		rm -rf $$probe
	@touch $@

install: $(STAMP) postfix ## Create .venv with the core, every plugin and the dev tools.

# A real Postfix for the SMTP tests (tests/support/postfix.py runs a private instance on
# 127.0.0.1 that delivers nothing): the Debian package, installed once, neither configured
# nor started as the system's mail server.
postfix:
	@test -x /usr/sbin/postfix || { \
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections && \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix >/dev/null; }

lint: install ## ruff and mypy --strict over core, plugins and tests.
	$(BIN)/ruff check core plugins tests benchmarks
	$(BIN)/ruff format --check core plugins tests benchmarks
	$(BIN)/mypy core/src plugins/*/src
	$(BIN)/mypy --strict --ignore-missing-imports benchmarks tests/benchmarks

format: install
	$(BIN)/ruff format core plugins tests benchmarks
	$(BIN)/ruff check --fix core plugins tests benchmarks

# The web preview's browser tests drive Debian's chromium (never a browser downloaded by
# Playwright). Installed with apt-get when missing (CI and the machines run as root);
# nothing to do, and no network, when it is there.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)

$(CHROMIUM):
	@command -v chromium >/dev/null 2>&1 || { \
		echo "make: installing Debian's chromium for the browser tests (apt-get)"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }

browser: $(CHROMIUM) ## Install Debian's chromium for the browser tests, if missing.

# The queued-delivery tests (tests/celery) start their own redis-server processes on free
# loopback ports: Debian's package, installed the same way when missing.
REDIS_SERVER := /usr/bin/redis-server

$(REDIS_SERVER):
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "make: installing Debian's redis-server for the queued-delivery tests (apt-get)"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q redis-server; }

redis: $(REDIS_SERVER) ## Install Debian's redis-server for the queued-delivery tests, if missing.

test: lint docs $(CHROMIUM) $(REDIS_SERVER) ## Lint, build the docs, then the whole test suite.
	$(BIN)/pytest -q --durations=15

screenshots: install $(CHROMIUM) ## Retake docs/images/preview-*.png from the browser tests.
	UPDATE_DOCS_SCREENSHOTS=1 $(BIN)/pytest -q tests/web/test_browser.py

docs: install ## Build the documentation site into site/ (strict: a broken link fails).
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

demo: install ## Send the seed's examples through the development backends.
	$(BIN)/mailcore demo

# Two pytest processes (the properties split in halves of similar run time); each one's
# output is shown when both have ended. MAILKERN_FUZZ_EXAMPLES=N changes the 10,000.
# (MAILKERN_, not MAILCORE_: every MAILCORE_* variable is a setting, and an unknown one warns.)
fuzz: install ## Fuzz message building (hypothesis): 10,000 examples per property, 2 processes.
	@export MAILKERN_FUZZ=1; dir=tests/reliability/fuzz; logs=$$(mktemp -d); \
	opts="-q --timeout=1800 --hypothesis-show-statistics"; \
	echo "make fuzz: 2 pytest processes; their output comes when both end (minutes)"; \
	$(BIN)/pytest $$opts $$dir/test_fuzz_message.py $$dir/test_fuzz_headers.py \
		>$$logs/1 2>&1 & first=$$!; \
	$(BIN)/pytest $$opts $$dir --ignore=$$dir/test_fuzz_message.py \
		--ignore=$$dir/test_fuzz_headers.py >$$logs/2 2>&1; second=$$?; \
	wait $$first; first=$$?; cat $$logs/1 $$logs/2; rm -rf $$logs; \
	test $$first = 0 && test $$second = 0

BENCH_VENV := benchmarks/.venv
BENCH_STAMP := $(BENCH_VENV)/.mailcore-bench-installed
# mailcore comes from ./core in the same command as the plugins, never from an index.
BENCH_EDITABLES := -e ./core $(patsubst %/pyproject.toml,-e ./%,$(wildcard plugins/*/pyproject.toml))

$(BENCH_STAMP): $(UV) $(PROJECT_FILES) benchmarks/requirements.txt
	$(UV) venv --quiet --allow-existing $(BENCH_VENV)
	$(UV) pip install --quiet --python $(BENCH_VENV)/bin/python $(BENCH_EDITABLES) -r benchmarks/requirements.txt
	@touch $@

bench: install $(BENCH_STAMP) $(REDIS_SERVER) ## mailcore against Django, in benchmarks/.venv (e.g. BENCH_ARGS=--quick).
	$(BENCH_VENV)/bin/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache site
