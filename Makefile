# The two set-up commands for a fresh machine are `make demo` and `make test`;
# each installs what it needs into .venv first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install services demo test check bench readme clean

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

demo: install services  ## the dashboard on a generated demo deployment
	$(BIN)/toolbox-tui demo --dir .demo

test: install services  ## the whole suite
	$(BIN)/pytest -q

check: install  ## lint and types
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install services  ## speed and memory figures (printed, never asserted)
	$(BIN)/python -m benchmarks

readme: install  ## regenerate the README's check catalogue from the registry
	$(BIN)/python -m toolbox_tui.readme --write README.md

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
