"""Episodes: running a model over a task set, for generation, evaluation and RL rollouts alike.

* :mod:`.engine`: :class:`EpisodeEngine` plays a solver over episodes (scheduling, failures, progress);
* :mod:`.executors`: where episodes run (the executor seam; ``local`` today);
* :mod:`.runs`: a stored, resumable run (fingerprints, the folder's lock and writer, the manifest);
* :mod:`.generate`: ``agentdistill generate``, teacher episodes into a trajectory folder.
"""

from __future__ import annotations

from agentdistill.lazy import lazy_getattr

_EXPORTS = {
    "Episode": "agentdistill.episodes.engine",
    "EpisodeEngine": "agentdistill.episodes.engine",
    "EXECUTORS": "agentdistill.episodes.executors",
    "ExecutorConfig": "agentdistill.episodes.executors",
    "StoredRun": "agentdistill.episodes.runs",
    "RunSummary": "agentdistill.episodes.runs",
    "GenerateConfig": "agentdistill.episodes.generate_config",
    "generate": "agentdistill.episodes.generate",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
