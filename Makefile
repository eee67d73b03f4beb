# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# durable-rules does not import on Python 3.13+: there the suite runs on the plain-Python engine.
PYTHON313 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13 2>/dev/null))
VENV313 := .venv313

.PHONY: demo test bench bench-fhir bench-service docs lint typecheck pytest pytest-py313 clean screenshots mutation notebook

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python examples/demo.py examples/hr_positive_bone.yaml

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run.py
	@echo "memory, 200,000 evaluations of 1,000 patients (start_kb end_kb growth_kb):"
	$(BIN)/python benchmarks/memory.py 200000 compiled
	@echo "memory, 200,000 distinct patients (start_kb end_kb growth_kb):"
	$(BIN)/python benchmarks/memory.py 200000 compiled --distinct
	$(BIN)/python benchmarks/service.py
	$(BIN)/python benchmarks/fhir.py

bench-fhir: $(BIN)/.installed
	$(BIN)/python benchmarks/fhir.py

bench-service: $(BIN)/.installed
	$(BIN)/python benchmarks/service.py

# The notebook view as a browser draws it (docs/images/); needs Chromium from the system's
# packages (apt-get install chromium). Not part of `make test`.
screenshots: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[screenshots]'
	$(BIN)/python tools/screenshots.py

# The quickstart notebook with the outputs of a fresh execution (tests/test_notebook.py fails
# when the stored outputs differ from what the code gives).
notebook: $(BIN)/.installed
	$(BIN)/python tools/notebook.py

docs: $(BIN)/.installed
	$(BIN)/python -m mbc_rules.docs docs

lint: $(BIN)/.installed
	$(BIN)/ruff format --check src tests examples benchmarks tools
	$(BIN)/ruff check src tests examples benchmarks tools

typecheck: $(BIN)/.installed
	$(BIN)/mypy

# The coverage floor is fail_under in pyproject.toml ([tool.coverage.report]).
pytest: $(BIN)/.installed
	$(BIN)/python -m pytest --cov=mbc_rules --cov-report=term:skip-covered

# Deliberate breakages that the fast suite must catch (tools/mutation.py lists them and why).
mutation: $(BIN)/.installed
	$(BIN)/python tools/mutation.py

$(VENV313)/.installed: pyproject.toml
	$(PYTHON313) -m venv $(VENV313)
	$(VENV313)/bin/python -m pip install --quiet --upgrade pip
	$(VENV313)/bin/python -m pip install --quiet -e '.[dev]'
	touch $@

pytest-py313:
ifeq ($(PYTHON313),)
	@echo "pytest-py313: no Python 3.13 on this machine; skipped"
else
	$(MAKE) $(VENV313)/.installed
	$(VENV313)/bin/python -m pytest -q -p no:cacheprovider
endif

test: lint typecheck pytest pytest-py313

clean:
	rm -rf $(VENV) $(VENV313) build dist .mypy_cache .pytest_cache .ruff_cache
