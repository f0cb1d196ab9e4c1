# The README's two commands: `make demo` and `make test`. Each installs what it needs.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test experiment experiment-rl lint format bench-models

setup:
	bash scripts/bootstrap.sh

# The whole pipeline offline on the embedded default model (needs only bubblewrap from the system).
demo:
	BOOTSTRAP_VLLM=0 APT_PACKAGES=bubblewrap bash scripts/bootstrap.sh
	.venv/bin/agentdistill pipeline --config configs/demo.yaml

# The README's offline experiments on a fresh machine: each installs what it needs (the venv, the default model,
# bubblewrap for the sandbox, the vLLM CPU environment that serves every model) and runs. `experiment`:
# distillation (20-40 min on 2 cores; leaves its student in runs/offline-selfdistill); `experiment-rl`: GRPO
# from that student beside the shuffled-reward control (about 65 min). EXPERIMENT_ARGS go to the script.
EXPERIMENT_ARGS ?=
experiment:
	APT_PACKAGES=bubblewrap bash scripts/bootstrap.sh
	$(PY) benchmarks/distillation_gain.py $(EXPERIMENT_ARGS)

experiment-rl:
	APT_PACKAGES=bubblewrap bash scripts/bootstrap.sh
	$(PY) benchmarks/rl_offline.py $(EXPERIMENT_ARGS)

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
