# Everything a fresh machine needs: `make demo` and `make test` create .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all test lint demo demo-station clean wiring

all: test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "rig needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The firmware tests also run the firmware under real MicroPython (its WebAssembly port, from npm).
NODE_STAMP := firmware/node_modules/.installed
$(NODE_STAMP): firmware/package.json
	cd firmware && npm ci --no-audit --no-fund --silent
	@touch $(NODE_STAMP)

# The HTML report and the station page are checked in a real headless browser: Debian's
# chromium (the station page driven by Playwright, which downloads no browser of its own).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium

# The fleet's tests run a real PostgreSQL and a real Mosquitto, started by the tests themselves
# on 127.0.0.1 (tests/servers.py: initdb and postgres in a temp dir, `mosquitto -p PORT`): only
# Debian's programs are needed, never the packages' own cluster or services. Debian keeps the
# server in /usr/lib/postgresql/<version>/bin; before it is installed the path is a stand-in.
POSTGRES  := $(or $(lastword $(wildcard /usr/lib/postgresql/*/bin/postgres)),/usr/lib/postgresql/0/bin/postgres)
# openssl makes the certificates of the TLS broker test.
MOSQUITTO := /usr/sbin/mosquitto
OPENSSL   := /usr/bin/openssl
$(POSTGRES) $(MOSQUITTO) $(OPENSSL) &:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  $$SUDO apt-get install -y -qq postgresql mosquitto openssl

test: $(STAMP) $(if $(wildcard firmware/package.json),$(NODE_STAMP)) $(CHROMIUM) $(POSTGRES) $(MOSQUITTO) $(OPENSSL)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check rig tests scripts
	$(BIN)/ruff format --check rig tests scripts
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/rig demo

# The station with four simulated bays and its page (README: "Station in a browser").
demo-station: $(STAMP)
	$(BIN)/rig demo --bays 4 --web

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Wiring diagrams (SVG, PNG, Graphviz source) and bills of materials from wiring/*.yml.
# WireViz needs Graphviz's `dot`: on Debian / Raspberry Pi OS, `sudo apt-get install graphviz`.
wiring: $(STAMP)
	@command -v dot >/dev/null || { echo "wiring: needs Graphviz's dot: sudo apt-get install graphviz" >&2; exit 1; }
	$(BIN)/wireviz --format gpst $(wildcard wiring/*.yml)
