"""Trajectories: the record store (shards, one reader, one writer), filters, formats, statistics and the
viewer. Running a model over tasks to make them is :mod:`agentdistill.episodes`."""

from agentdistill.trajectories.store import TrajectoryStore, iter_trajectories, shard_paths

__all__ = ["TrajectoryStore", "iter_trajectories", "shard_paths"]
