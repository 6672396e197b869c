"""Lazy name -> object registries: nothing is imported until a name is chosen."""
from __future__ import annotations

import importlib
import re
from importlib.metadata import entry_points
from typing import Any, Iterator

from harness.errors import HarnessError

NAME_RULE = "names are letters, digits, '_', '-', '.' and ':', at most 200 characters, and do not start with '.'"
_NAME = re.compile(r"[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,199}")
"""':' admits the ``"conformance:module:Class"`` names ``harness.testing.strategy_checks`` gives
the strategies it checks; 200 leaves room below the 255-byte limit of a folder name."""


def check_name(kind: str, name: object) -> str:
    """``name`` unchanged when it can name a folder under ``--out`` or a data dir (one path part,
    no ``..``, no ``/``, nothing hidden); a one-line ``HarnessError`` naming the rule otherwise.
    Strategy, space, dataset and benchmark names become folder names, so ``../../x`` or ``/tmp/x``
    would put a run outside the results directory."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise HarnessError(f"{kind} name {name!r} cannot be used: {NAME_RULE}; rename it")
    return name


class LazyRegistry:
    """Maps names to ``"module:attribute"`` targets, resolved on first use.

    An entry is a target string or an object with a ``target`` attribute carrying more about it
    (``strategies.registry.StrategyEntry``: purpose, cost, source). ``entry_point_group`` adds
    entries that outside packages declare in their pyproject
    (``[project.entry-points."nas_harness.strategies"] mine = "pkg.mod:MyStrategy"``).
    """

    def __init__(self, kind: str, entries: dict[str, Any], entry_point_group: str | None = None):
        self.kind = kind
        for name in entries:
            check_name(kind, name)
        self._entries = dict(entries)
        self._group = entry_point_group
        self._plugins_loaded = False
        self._refused: dict[str, str] = {}
        """Plugin names that break the naming rule: refused when chosen, never listed."""

    def _load_plugins(self) -> None:
        if self._plugins_loaded or not self._group:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self._group):
            try:
                check_name(self.kind, ep.name)
            except HarnessError as exc:
                self._refused[ep.name] = f"{exc} (entry point {ep.value!r} of group {self._group})"
                continue
            self._entries.setdefault(ep.name, ep.value)

    def register(self, name: str, target: str) -> None:
        """Add ``name`` -> ``"module:attribute"`` (for tests and interactive use); ``name`` must
        follow ``NAME_RULE``."""
        self._entries[check_name(self.kind, name)] = target

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
        if name in self._refused:
            raise HarnessError(self._refused[name])
        try:
            return self._entries[check_name(self.kind, name)]
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
