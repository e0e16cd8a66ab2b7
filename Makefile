# The two commands of the README: `make demo` and `make test`. Both create .venv
# on first use and (re)install when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Installed before the project so nothing resolves an unpinned torch (that would be a multi-GB CUDA build).
TORCH  ?= torch==2.13.0

.PHONY: install test demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet '$(TORCH)'
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet -e 'clients/python[langchain]'
	touch $(STAMP)

install: $(STAMP)

# Two worker processes by default (the machines have 2 cores); TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

demo: install
	$(BIN)/vecdex demo --host $(HOST) --port $(PORT)

# `make bench` runs the whole benchmark suite (long: 1M vectors, sub-benchmarks); `make bench QUICK=1` a few-minute run. Not part of `make test`.
bench: install
	$(BIN)/python bench/suite.py $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) data build *.egg-info
