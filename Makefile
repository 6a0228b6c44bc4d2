# Everything a fresh machine with only python3 and make needs: `make demo`, `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lint format test test-fast demo demo-local bench system-deps clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

system-deps:
	bash scripts/system-deps.sh

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

test: lint system-deps
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -x -q

demo: install
	$(BIN)/steadyhand demo

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .steadyhand .pytest_cache .mypy_cache .ruff_cache
