"""Trajectories: generation runs, the shard store, filters, formats, statistics and the viewer."""

from agentdistill.trajectories.store import TrajectoryStore, iter_trajectories, shard_paths

__all__ = ["TrajectoryStore", "iter_trajectories", "shard_paths"]
