"""Host tools as the sandbox sees them: a description, a call with positional or keyword arguments,
and a JSON-able result.

A host tool is a plain callable or a langchain-core ``BaseTool`` / ``Runnable``. Model-written code in the
sandbox calls it like a function (``web_search("...")``); the call travels to the host, which runs it
here and sends back :func:`tool_output` of the result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def describe_tool(tool: Any) -> str:
    """A tool's one-line description: a ``BaseTool``'s ``description``, else the callable's docstring."""
    text = getattr(tool, "description", None) or getattr(tool, "__doc__", None) or ""
    return " ".join(str(text).split())


def invoke_tool(tool: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """Call a plain callable, or a langchain ``BaseTool``/``Runnable`` through ``invoke``."""
    if hasattr(tool, "invoke") and not isinstance(tool, type):
        names = list(getattr(tool, "args", None) or {})
        if not kwargs and len(args) == 1 and len(names) <= 1:
            payload: Any = {names[0]: args[0]} if names else args[0]
        else:
            if len(args) > len(names):
                raise TypeError(
                    f"takes {len(names)} positional arguments ({', '.join(names)}), got {len(args)}"
                )
            payload = {**dict(zip(names, args, strict=False)), **kwargs}
        return tool.invoke(payload)
    return tool(*args, **kwargs)


def tool_output(value: Any) -> Any:
    """What the sandbox receives: JSON data as is; messages, documents and other objects as text."""
    content = getattr(value, "content", None)
    if isinstance(content, str) and not isinstance(value, str | bytes):
        return content
    if isinstance(value, list) and value and all(hasattr(v, "page_content") for v in value):
        return "\n\n".join(v.page_content for v in value)
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)
