# One command each: `make demo` (set up, then dry-run an example campaign) and
# `make test` (set up, then lint and run the test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_RUN := runs/demo-hartmann6

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

# torch first and pinned: a bare `torch` requirement resolved by pip would pull a
# multi-GB CUDA build; 2.13.0 is the CPU wheel this project is tested with.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: setup
	rm -rf $(DEMO_RUN)
	$(BIN)/tansaku validate campaigns/hartmann6.yaml
	$(BIN)/tansaku run campaigns/hartmann6.yaml --dry-run --run-dir $(DEMO_RUN)
	$(BIN)/tansaku status $(DEMO_RUN) --last 5
	$(BIN)/tansaku export $(DEMO_RUN) --format csv -o $(DEMO_RUN)/experiments.csv

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/loop_benchmark.py

clean:
	rm -rf $(VENV) runs
