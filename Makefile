# The README's two commands: `make demo` and `make test`. Each installs what it needs.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test lint format bench-models

setup:
	bash scripts/bootstrap.sh

# The whole pipeline offline on the embedded default model (needs only bubblewrap from the system).
demo:
	BOOTSTRAP_VLLM=0 APT_PACKAGES=bubblewrap bash scripts/bootstrap.sh
	.venv/bin/agentdistill pipeline --config configs/demo.yaml

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
