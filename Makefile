# The two set-up commands for a fresh machine are `make demo` and `make test`;
# each installs what it needs into .venv first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test check bench readme clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install  ## the dashboard on a generated demo deployment
	$(BIN)/toolbox-tui demo --dir .demo

test: install  ## the whole suite
	$(BIN)/pytest -q

check: install  ## lint and types
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install  ## speed and memory figures (printed, never asserted)
	$(BIN)/python -m benchmarks

readme: install  ## regenerate the README's check catalogue from the registry
	$(BIN)/python -m toolbox_tui.readme --write README.md

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
