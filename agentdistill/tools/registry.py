"""Host tools by name: what model-written code may call from the sandbox besides ``final_answer``.

Each entry is a *factory* ``(retrieval: RetrievalConfig) -> tool`` (a plain callable or a langchain-core
``BaseTool``), built the first time an agent needs it, so an agent that never searches never opens an
index. ``AgentConfig.tools`` names the tools an agent gets; ``AgentConfig.domain_tools`` narrows them per
task domain. Add one with::

    from agentdistill.tools.registry import HOST_TOOLS
    HOST_TOOLS.register("calculator", lambda retrieval: my_calculator)       # an object
    HOST_TOOLS.register("wiki", "my_pkg.tools:make_wiki_tool")              # imported on first use
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from agentdistill.registry import Registry
from agentdistill.tools.retrieval.config import RetrievalConfig

ToolFactory = Callable[[RetrievalConfig], Any]
HOST_TOOLS: Registry[ToolFactory] = Registry(
    "host tool", {"web_search": "agentdistill.tools.web_search:WebSearchTool.from_config"}
)


def make_host_tool(name: str, retrieval: RetrievalConfig | None = None) -> Any:
    """Build the registered host tool ``name`` (``web_search`` searches ``retrieval.index``)."""
    return HOST_TOOLS.get(name)(retrieval or RetrievalConfig())


def make_host_tools(names: Iterable[str], retrieval: RetrievalConfig | None = None) -> dict[str, Any]:
    """Several host tools by name, in order."""
    return {name: make_host_tool(name, retrieval) for name in names}
