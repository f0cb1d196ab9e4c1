"""One registry type for every extension point: names -> objects, or lazy ``"module:attr"`` names.

Each part keeps its registry beside its implementations (``sandbox/backends.py``, ``tasks/metrics.py``,
``agents/solvers.py``...), listing built-ins as ``"module:attr"`` strings so that looking a name up, or
listing the valid names in an error message, never imports torch, faiss or docker. A user adds an entry
with :meth:`Registry.register`, as an object or as a lazy name, without subclassing anything::

    from agentdistill.tasks.metrics import METRICS
    METRICS.register("my_metric", my_metric_fn)              # an object
    METRICS.register("their_metric", "their_pkg.metrics:fn")  # imported on first use

Every registry answers an unknown name the same way: ``unknown <kind> 'x'; did you mean y? available: ...``.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar, overload

from agentdistill.errors import AgentDistillError

T = TypeVar("T")
_MISSING: Any = object()


class RegistryError(AgentDistillError, KeyError):
    """An unknown name, or a lazy name whose module or attribute cannot be imported."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def is_lazy_name(value: Any) -> bool:
    """Whether ``value`` is a ``"package.module:attr"`` string (an import path, not an object)."""
    if not isinstance(value, str):
        return False
    module, sep, attr = value.partition(":")
    return bool(sep and module and attr) and all(part.isidentifier() for part in module.split("."))


def import_object(path: str, *, what: str = "object") -> Any:
    """The object named by ``"module:attr"`` (``attr`` may be dotted); errors say which part is missing.

    A module that is not installed is a :class:`RegistryError`; an import error *inside* an installed
    module is a bug there and propagates unchanged.
    """
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise RegistryError(f"{what} {path!r}: expected 'module:attr' (e.g. my_pkg.tools:search)")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise RegistryError(f"{what}: {module_name} is not in this installation") from None
        raise
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise RegistryError(f"{what}: {module_name} has no {attr}") from None
    return obj


def suggest(name: str, options: list[str]) -> str | None:
    """The closest option to a misspelt ``name`` (or None when nothing is close)."""
    lowered = {o.lower(): o for o in options}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    if close:
        return lowered[close[0]]
    prefixed = [o for o in options if name and (o.startswith(name) or name.startswith(o))]
    return prefixed[0] if prefixed else None


def unknown_name_message(kind: str, name: str, options: list[str], hint: str = "") -> str:
    """``unknown <kind> 'name'; did you mean x? available: a, b, c`` (+ a hint on what else is valid)."""
    message = f"unknown {kind} {name!r}"
    if (close := suggest(name, options)) is not None:
        message += f"; did you mean {close!r}?"
    message += f"; available: {', '.join(options) if options else '(none)'}"
    return f"{message} ({hint})" if hint else message


class Registry(Generic[T]):
    """A thread-safe name -> object map whose entries may be lazy ``"module:attr"`` names.

    ``kind`` names the entries in messages ("sandbox backend", "metric"); ``error`` is the exception class
    raised for an unknown name (a subclass of :class:`RegistryError` or any ``AgentDistillError``), so each
    part keeps its own error type while all share one message shape; ``hint`` is appended to it.
    """

    def __init__(
        self,
        kind: str,
        entries: dict[str, T | str] | None = None,
        *,
        error: type[Exception] = RegistryError,
        hint: str = "",
    ) -> None:
        self.kind = kind
        self.error = error
        self.hint = hint
        self._entries: dict[str, T | str] = dict(entries or {})
        self._lock = threading.RLock()

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...
    @overload
    def register(self, name: str, target: T | str) -> T | str: ...

    def register(self, name: str, target: Any = None) -> Any:
        """Add or replace ``name``: ``register(name, obj)``, ``register(name, "module:attr")``, or as a
        decorator ``@REGISTRY.register(name)``."""
        if target is None:

            def decorator(obj: T) -> T:
                self.register(name, obj)
                return obj

            return decorator
        with self._lock:
            self._entries[name] = target
        return target

    def unregister(self, name: str) -> None:
        """Remove ``name`` if present (tests, plugins that replace a built-in)."""
        with self._lock:
            self._entries.pop(name, None)

    def names(self) -> list[str]:
        """The registered names, in registration order; imports nothing."""
        with self._lock:
            return list(self._entries)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def unknown(self, name: str) -> Exception:
        """The error for an unknown ``name``: the shared message with a suggestion and the valid names."""
        return self.error(unknown_name_message(self.kind, name, self.names(), self.hint))

    def check(self, name: str) -> str:
        """``name`` if it is registered, else the unknown-name error (nothing is imported)."""
        if name not in self:
            raise self.unknown(name)
        return name

    def get(self, name: str, default: Any = _MISSING) -> T:
        """The object for ``name``, importing a lazy entry on first use (then cached); an unknown name
        raises the shared error unless a ``default`` is given (dict-style)."""
        with self._lock:
            if name not in self._entries:
                if default is not _MISSING:
                    return default  # type: ignore[no-any-return]
                raise self.unknown(name)
            entry = self._entries[name]
        if is_lazy_name(entry):
            try:
                obj = import_object(str(entry), what=f"{self.kind} {name!r} is not available yet")
            except RegistryError as e:
                raise self.error(str(e)) from None
            with self._lock:
                if self._entries.get(name) == entry:
                    self._entries[name] = obj
            return obj  # type: ignore[no-any-return]
        return entry  # type: ignore[return-value]

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __setitem__(self, name: str, target: T | str) -> None:
        self.register(name, target)

    def __delitem__(self, name: str) -> None:
        self.unregister(name)

    def items(self) -> list[tuple[str, T]]:
        """(name, object) pairs, importing every lazy entry."""
        return [(n, self.get(n)) for n in self.names()]

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
