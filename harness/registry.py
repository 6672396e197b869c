"""Lazy name -> object registries: nothing is imported until a name is chosen."""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, Iterator

from harness.errors import HarnessError


class LazyRegistry:
    """Maps names to ``"module:attribute"`` targets, resolved on first use.

    An entry is a target string or an object with a ``target`` attribute carrying more about it
    (``strategies.registry.StrategyEntry``: purpose, cost, source). ``entry_point_group`` adds
    entries that outside packages declare in their pyproject
    (``[project.entry-points."nas_harness.strategies"] mine = "pkg.mod:MyStrategy"``).
    """

    def __init__(self, kind: str, entries: dict[str, Any], entry_point_group: str | None = None):
        self.kind = kind
        self._entries = dict(entries)
        self._group = entry_point_group
        self._plugins_loaded = False

    def _load_plugins(self) -> None:
        if self._plugins_loaded or not self._group:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self._group):
            self._entries.setdefault(ep.name, ep.value)

    def register(self, name: str, target: str) -> None:
        """Add ``name`` -> ``"module:attribute"`` (for tests and interactive use)."""
        self._entries[name] = target

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def entry(self, name: str) -> Any:
        """What was registered under ``name`` (a target string or an entry object)."""
        self._load_plugins()
        try:
            return self._entries[name]
        except KeyError:
            raise HarnessError(
                f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}"
            ) from None

    def target(self, name: str) -> str:
        entry = self.entry(name)
        return entry if isinstance(entry, str) else entry.target

    def get(self, name: str) -> Any:
        target = self.target(name)
        module_name, _, attr = target.partition(":")
        module = importlib.import_module(module_name)
        try:
            return getattr(module, attr)
        except AttributeError:
            raise HarnessError(f"{self.kind} {name!r} points to {target!r}, which does not exist") from None
