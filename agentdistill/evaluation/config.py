"""``EvalConfig``: what ``agentdistill eval`` runs, documented field by field (loadable from YAML)."""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass
class EvalConfig:
    """One evaluation run: a model in a mode on some benchmarks, written to ``out``."""

    benchmarks: list[str]
    """Task specs: ``hotpotqa``, ``gsm8k[:50]``, ``aime:2024``, ``math500:100`` (seeded sample), files."""
    out: str
    """Run folder: predictions.jsonl, metrics.json, results.md, run.json, plots/."""
    agent: str = "default"
    """Model spec of the solver (``default``, ``hf:...``, ``openai:<model>@<url>``)."""
    mode: Literal["agent", "cot", "cot-rag"] | str = "agent"
    """``cot`` (answer directly), ``cot-rag`` (retrieved documents in the prompt) or ``agent`` (CodeAct)."""
    role: Literal["teacher", "student"] = "student"
    """Recorded in trajectories; the agent mode uses it to pick teacher or student behaviour."""
    sag: int = 1
    """Self-consistent action generation: candidates per step in agent mode (1 = plain decoding)."""
    max_tokens: int = 1024
    """New tokens per model call."""
    temperature: float = 0.0
    """0 is greedy."""
    max_steps: int = 5
    """Agent steps per episode before the final-answer call (agent mode)."""
    top_k: int = 3
    """Retrieved documents per question (cot-rag)."""
    index: str = "demo"
    """Retrieval index folder, or ``demo`` for the bundled HotpotQA demo index."""
    judge: str | None = None
    """Model spec of an LLM judge for QA answers (optional; verdicts cached on disk)."""
    judge_cache: str | None = None
    """SQLite file for judge verdicts; default ``<cache>/judge/verdicts.sqlite``."""
    concurrency: int = 4
    """Tasks in flight at once."""
    domain: str | None = None
    """Domain (``qa`` or ``math``) of tasks read from local files, which carry none."""
    data_dir: str | None = None
    """Folder laid out like shared/data; default ``$AGENTDISTILL_DATA_DIR``, else the bundled samples."""
    source: Literal["auto", "local", "hf"] = "auto"
    """``hf`` loads registered benchmarks from the Hugging Face hub (online)."""
    seed: int = 0
    """Seed for sampled specs (``name:N``) and for sampling."""
    name: str | None = None
    """Run name in reports; default the folder name."""
    plots: bool = True
    """Write plots/ for this run."""
