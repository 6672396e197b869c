"""A persistent evaluation cache, so an architecture is never trained twice with the same settings.

Key = (space, canonical architecture id, evaluator config hash, training seed). Each entry is one
small JSON file ``<root>/<k[:2]>/<k>.json`` (k = sha256 of the key) written atomically
(harness.atomic), so concurrent runs and workers can share a cache dir and a crash never leaves a
half-written entry that is read back: an unreadable or mismatched file counts as a miss and is
overwritten by the next ``put``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness.atomic import write_json


def config_hash(config: dict[str, Any]) -> str:
    """A short, stable hash of a JSON-able evaluator configuration."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


class EvalCache:
    """``get``/``put`` of result records (JSON-able dicts); ``root=None`` disables the cache."""

    def __init__(self, root: Path | str | None):
        self.root = None if root is None else Path(root)

    @staticmethod
    def key(space: str, arch_id: str, config: str, seed: int) -> dict[str, Any]:
        return {"space": space, "arch_id": arch_id, "config": config, "seed": int(seed)}

    def _path(self, key: dict[str, Any]) -> Path:
        assert self.root is not None
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.json"

    def get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        """The stored record for ``key``, or None (absent, unreadable or for another key)."""
        if self.root is None:
            return None
        try:
            entry = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("record"), dict):
            return None
        return entry["record"]

    def put(self, key: dict[str, Any], record: dict[str, Any]) -> None:
        if self.root is not None:
            write_json(self._path(key), {"key": key, "record": record})
