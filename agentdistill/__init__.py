"""agentdistill: distill LLM agents with retrieval and sandboxed Python tools into small models."""

from agentdistill.schema import ExecResult, Message, Task, Trajectory

__version__ = "0.1.0"

__all__ = ["ExecResult", "Message", "Task", "Trajectory", "__version__"]
