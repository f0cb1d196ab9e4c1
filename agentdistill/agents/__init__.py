"""Agents: the CodeAct loop (teacher and student), its prompts, parsing and self-consistent actions."""

from agentdistill.agents.codeact import CodeActAgent
from agentdistill.agents.config import AgentConfig
from agentdistill.agents.prompts import Prompts, load_prompts

__all__ = ["AgentConfig", "CodeActAgent", "Prompts", "load_prompts"]
