# skyfence: the two commands are `make demo` and `make test`; both set everything up.
SHELL := /bin/bash
# The first Python 3.11+ on PATH (override: make PYTHON=/path/to/python3.12 ...).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: tools vendor-leaflet bench chaos install demo test lint typecheck unit integration fuzz golden fetch-kafka clean help

help:
	@echo "make demo     run the whole pipeline on the seed scenario (embedded broker) and show the alerts"
	@echo "make test     lint, type check, unit + component + integration tests (Tansu and Apache Kafka)"
	@echo "make install  create .venv and install skyfence with its development dependencies"
	@echo "make golden   regenerate the seed scenario's golden events after an intended change"

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "skyfence needs Python 3.11 or newer on PATH" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,demo]'
	@touch $(STAMP)

demo: install
	$(BIN)/skyfence demo $(ARGS)

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -n auto --maxprocesses 4 tests/unit tests/component

integration: install
	$(BIN)/pytest tests/integration

# Hypothesis fuzzing of the codec and every source parser, 10,000 examples each (make test
# runs a few hundred); prints the examples run and failures per parser.
fuzz: install
	SKYFENCE_FUZZ_EXAMPLES=10000 $(BIN)/pytest -m fuzz --timeout 0 tests/unit/test_fuzz.py

# Pre-fetch the Apache Kafka jars from Maven Central into the cache (the tests do it on demand).
fetch-kafka: install
	$(BIN)/python -m tests.support.brokers fetch

# Debian tools the tests use for real checks (promtool; kcat, a third-party Kafka producer).
# Installed when missing and root; otherwise the tests that need them skip with the reason
# (and fail under CI=true).
tools:
	@if ! command -v promtool >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's prometheus (promtool)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; \
	  else echo "promtool not found and cannot install it: its test will skip"; fi; \
	fi
	@if ! command -v kcat >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's kcat"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >/dev/null; \
	  else echo "kcat not found and cannot install it: its test will skip"; fi; \
	fi
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium (the desk page's browser test)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; \
	  else echo "chromium not found and cannot install it: the browser test will skip"; fi; \
	fi

# Re-vendor Leaflet from npm into the desk page's static folder (build time, committed:
# the page fetches nothing at run time). LEAFLET_VERSION pins it.
LEAFLET_VERSION ?= 1.9.4
vendor-leaflet:
	rm -rf .leaflet && mkdir .leaflet && cd .leaflet && npm pack --silent leaflet@$(LEAFLET_VERSION) && tar xzf leaflet-$(LEAFLET_VERSION).tgz
	cp .leaflet/package/dist/leaflet.js .leaflet/package/dist/leaflet.css .leaflet/package/LICENSE alerts/desk_static/leaflet/
	rm -rf .leaflet

# Unit and component tests in parallel (up to 4 processes), then the integration tests one at
# a time (they start brokers and time recoveries).
test: install tools lint typecheck
	$(BIN)/pytest -n auto --maxprocesses 4 tests/unit tests/component
	$(BIN)/pytest tests/integration

# Benchmarks, apart from the tests: writes bench-results.json and prints a table.
bench: install
	$(BIN)/python -m tests.bench.run

# Chaos scenarios on Apache Kafka, RUNS times each (SEED replays kill points): writes
# docs/reliability.md and ends with the summary line. Niced: the machine is shared.
RUNS ?= 5
chaos: install
	nice -n 10 $(BIN)/python -m tests.chaos.run --runs $(RUNS) $(if $(SEED),--seed $(SEED))

golden: install
	$(BIN)/skyfence evaluate seeds/dprk-2023-09.jsonl.gz --zones dprk > seeds/dprk-2023-09.events.jsonl

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
