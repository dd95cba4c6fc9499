# anjungan — the two commands are `make demo` and `make test`; both build on `make install`.
PYTHON ?= python3
# options of `anjungan demo`, e.g. make demo DEMO_ARGS="--kiosk-port 8081 --central-port 8601"
DEMO_ARGS ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck pytest bench clean system-deps

install: $(STAMP)

$(STAMP): pyproject.toml
	@bash scripts/system-deps.sh base
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

system-deps:
	@bash scripts/system-deps.sh test

demo: install
	@bash scripts/system-deps.sh demo
	$(BIN)/anjungan demo $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: install system-deps lint typecheck pytest

bench: install system-deps
	$(BIN)/python bench/store.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/kiosk.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/central.py
	$(BIN)/python bench/backoffice.py
	$(BIN)/python bench/field.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
