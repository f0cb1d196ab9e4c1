# The README's two commands: `make demo` (once it lands) and `make test`. Each installs what it needs.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup test lint format bench-models

setup:
	bash scripts/bootstrap.sh

# AGENTDISTILL_REQUIRE_SERVICES=1: tests that need vLLM / Docker fail instead of skipping,
# because setup installed them.
test: setup
	AGENTDISTILL_REQUIRE_SERVICES=1 $(PY) -m pytest $(PYTEST_ARGS)

lint:
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

format:
	$(PY) -m ruff check --fix . && $(PY) -m ruff format .

bench-models: setup
	$(PY) benchmarks/models_throughput.py
