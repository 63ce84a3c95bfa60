# fleetwire — the two commands a new user needs are `make demo` and `make test`.
# Every target sets up .venv (editable install with the extras it needs) first;
# re-running is fast when pyproject.toml has not changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint format docs clean help

help:
	@echo "make demo   - run simulated vehicle -> agent -> broker -> cloud, print what to query"
	@echo "make test   - run the whole test suite (ruff + pytest)"
	@echo "make bench  - run the benchmarks, print a table, write build/bench.json"
	@echo "make docs   - regenerate docs/configuration.md from the declared keys"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  (echo "fleetwire needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "setting up $(VENV) (first run takes a minute)..."
	@$(BIN)/python -m pip install -q --upgrade pip > $(VENV)/install.log 2>&1 || \
	  (cat $(VENV)/install.log; exit 1)
	@$(BIN)/python -m pip install -e ".[dev]" >> $(VENV)/install.log 2>&1 || \
	  (tail -40 $(VENV)/install.log; echo "install failed; full log in $(VENV)/install.log"; exit 1)
	@touch $(STAMP)

demo: $(STAMP)
	@$(BIN)/python scripts/demo.py $(DEMO_ARGS)

test: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

format: $(STAMP)
	@$(BIN)/ruff format .

docs: $(STAMP)
	@$(BIN)/python scripts/gen_docs.py

clean:
	rm -rf $(VENV) build data .pytest_cache .ruff_cache .hypothesis
