"""Identical host-tool calls within one episode are answered from a cache.

Agents repeat calls (the same search twice, the same lookup in every self-consistency fork). An
:class:`EpisodeToolCache` wraps every host tool of one episode: a call whose tool name and arguments were
seen before returns the stored result without running the tool again, so a repeat costs nothing and
returns exactly what the agent saw before. One cache serves all forks of the episode's sandbox; each
episode gets its own, so one episode never sees another's results. Calls that raise are not cached.
"""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from agentdistill.tools.host import describe_tool, invoke_tool, tool_output


class EpisodeToolCache:
    """The cached host tools of one episode: ``tools`` maps names to :class:`CachedTool` wrappers."""

    def __init__(self, tools: Mapping[str, Any]) -> None:
        self._results: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.tools = {name: CachedTool(self, name, tool) for name, tool in tools.items()}

    def call(self, name: str, tool: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        key = _key(name, _arguments(tool, args, kwargs))
        with self._lock:
            if key in self._results:
                self.hits += 1
                return self._results[key]
        value = tool_output(invoke_tool(tool, args, kwargs))
        with self._lock:
            self.misses += 1
            self._results.setdefault(key, value)
            return self._results[key]


class CachedTool:
    """One host tool behind its episode's cache (the sandbox sees the same name and description)."""

    def __init__(self, cache: EpisodeToolCache, name: str, tool: Any) -> None:
        self.cache, self.name, self.tool = cache, name, tool
        self.description = describe_tool(tool)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.cache.call(self.name, self.tool, args, kwargs)


def _arguments(tool: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """The call's arguments by parameter name where the tool's signature says them, so ``f("a")`` and
    ``f(key="a")`` are the same call; as given otherwise."""
    names = list(getattr(tool, "args", None) or {}) if hasattr(tool, "invoke") else None
    if names is not None:  # a langchain tool: positional arguments fill its schema's fields in order
        if len(args) <= len(names):
            return {**dict(zip(names, args, strict=False)), **kwargs}
        return [list(args), dict(kwargs)]
    try:
        bound = inspect.signature(tool).bind(*args, **kwargs)
    except (TypeError, ValueError):  # no signature, or a call that will fail anyway
        return [list(args), dict(kwargs)]
    bound.apply_defaults()
    return dict(bound.arguments)


def _key(name: str, arguments: Any) -> str:
    """Tool name and arguments as canonical JSON (keyword order does not matter)."""
    return json.dumps([name, arguments], sort_keys=True, default=repr, ensure_ascii=False)
