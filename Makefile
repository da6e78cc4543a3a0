# neardup: every target sets up what it needs in .venv (Python 3.11+ only).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BENCH_ARGS ?=

.PHONY: demo test lint format bench quality browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## Find the copies in the bundled example corpus and print the clusters.
demo: $(STAMP)
	$(VENV)/bin/neardup find examples/corpus.jsonl --out results/demo
	$(VENV)/bin/neardup show results/demo

## Lint and run the whole test suite (installs Debian's chromium for the report's browser tests).
test: $(STAMP)
	bash scripts/setup-browser.sh
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(PY) -m pytest -n 2 tests

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

## Speed benchmark (issue 4): neardup, datasketch and rensa side by side -> benchmarks/RESULTS.md
bench: $(STAMP)
	$(VENV)/bin/pip install -q -e '.[test,bench]'
	$(PY) benchmarks/bench_speed.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
