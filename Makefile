# The two set-up commands for a fresh machine are `make demo` and `make test`;
# each installs what it needs into .venv first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install services peers demo test check bench readme clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The demo and the tests run real PostgreSQL and Redis servers from the Debian packages
# (TOOLBOX_PG_BIN may name another PostgreSQL bin directory). Root installs what is missing;
# anyone else is told the command.
define apt_install
{ [ "$$(id -u)" -eq 0 ] || { echo "$(1) is missing: run 'sudo apt-get install -y $(1)'" >&2; exit 1; }; \
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(1); }
endef

services:  ## the PostgreSQL and Redis binaries the sandbox runs
	@command -v redis-server >/dev/null || $(call apt_install,redis-server)
	@[ -n "$$TOOLBOX_PG_BIN" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| $(call apt_install,postgresql)

# soketi (Pusher's stand-in) comes from npm, pinned by the committed lock file.
NPM_DIR := toolbox_tui/sandbox/npm
SOKETI  := $(VENV)/soketi/node_modules/.bin/soketi

$(SOKETI): $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	@command -v npm >/dev/null || $(call apt_install,nodejs npm)
	mkdir -p $(VENV)/soketi
	cp $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json $(VENV)/soketi/
	cd $(VENV)/soketi && npm ci --no-audit --no-fund --loglevel=error
	touch $(SOKETI)

peers: $(SOKETI)  ## the npm-installed peers the sandbox runs (soketi)

demo: install services peers  ## the dashboard on a generated demo deployment
	$(BIN)/toolbox-tui demo --dir .demo

# Two processes, each taking whole test files: a file's tests share its sandbox and run in
# order (the runbook snapshots rely on it). Measured on 2 cores: 9 min instead of 15.
test: install services peers  ## the whole suite
	$(BIN)/pytest -q -n 2 --dist loadfile

check: install  ## lint and types
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install services peers  ## speed and memory figures (printed, never asserted)
	$(BIN)/python -m benchmarks

readme: install  ## regenerate the README's check catalogue from the registry
	$(BIN)/python -m toolbox_tui.readme --write README.md

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
