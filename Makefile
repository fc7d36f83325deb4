# Quick start:
#   make demo   - set up a virtual environment and run the bundled scenarios
#   make test   - set up a virtual environment and run the test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test bench lint clean

$(BIN)/kkt-emu: pyproject.toml
	bash tools/install_system_deps.sh
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dev]'
	touch $@

setup: $(BIN)/kkt-emu

demo: setup
	$(BIN)/kkt-emu run scenarios/

test: setup
	bash tools/install_system_deps.sh --browser
	$(BIN)/python tools/run_tests.py

bench: setup
	$(BIN)/kkt-emu bench --json

lint: setup
	$(BIN)/ruff check emulator firmware_menu tls_store tests tools
	$(BIN)/mypy emulator firmware_menu tls_store
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
