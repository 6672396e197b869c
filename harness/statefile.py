"""A strategy's state on disk, readable without executing code.

``Strategy.state_dict()`` returns plain data: dicts, lists, tuples, numbers, strings, numpy
arrays and torch tensors. ``save`` writes it as one ``.npz``: the tree as JSON (arrays replaced by
references) plus one array entry per array or tensor. ``load`` reads it with
``allow_pickle=False``, so a tampered file can hold wrong numbers but never run code -- unlike a
pickle or ``torch.load(weights_only=False)``. Written atomically (``harness.atomic``).
"""
from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from harness import atomic
from harness.errors import DataCorrupt

_TREE = "__tree__"
MAX_STATE_BYTES = 1 << 28
"""Largest total the members of a state file may inflate to (256 MiB); real states (histories,
model weights and optimiser moments of the shipped strategies) are kilobytes to a few MB."""


def _pack(obj: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"d": {k: _pack(v, arrays) for k, v in obj.items()}}
        return {"kv": [[_pack(k, arrays), _pack(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"t": [_pack(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return {"l": [_pack(v, arrays) for v in obj]}
    if isinstance(obj, (bool, str)) or obj is None:
        return {"v": obj}
    if isinstance(obj, (int, np.integer)):
        return {"i": str(int(obj))}  # text: PCG64 states exceed 64 bits
    if isinstance(obj, (float, np.floating)):
        return {"f": float(obj).hex() if math.isfinite(obj) else repr(float(obj))}
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError("object arrays cannot be stored without pickle")
        arrays.append(obj)
        return {"a": len(arrays) - 1}
    if type(obj).__module__.startswith("torch") and hasattr(obj, "detach"):
        t = obj.detach().cpu()
        arrays.append(t.float().numpy() if str(t.dtype) == "torch.bfloat16" else t.numpy())
        return {"tensor": len(arrays) - 1, "dtype": str(t.dtype).removeprefix("torch.")}
    raise TypeError(f"cannot store a {type(obj).__name__} in a state file (use plain data, numpy or torch)")


def _unpack(node: Any, arrays) -> Any:
    (kind, value), = node.items() if len(node) == 1 else [("tensor", node)]
    if kind == "d":
        return {k: _unpack(v, arrays) for k, v in value.items()}
    if kind == "kv":
        return {_unpack(k, arrays): _unpack(v, arrays) for k, v in value}
    if kind == "t":
        return tuple(_unpack(v, arrays) for v in value)
    if kind == "l":
        return [_unpack(v, arrays) for v in value]
    if kind == "v":
        return value
    if kind == "i":
        return int(value)
    if kind == "f":
        return float.fromhex(value) if value not in ("nan", "inf", "-inf") else float(value)
    if kind == "a":
        return arrays[f"a{value}"]
    if kind == "tensor":
        import torch

        arr = arrays[f"a{node['tensor']}"]
        return torch.from_numpy(np.array(arr)).to(getattr(torch, node["dtype"]))
    raise ValueError(f"unknown node {kind!r}")


def dumps(state: Any) -> bytes:
    arrays: list[np.ndarray] = []
    tree = json.dumps(_pack(state, arrays), separators=(",", ":")).encode()
    buf = io.BytesIO()
    np.savez(buf, **{_TREE: np.frombuffer(tree, dtype=np.uint8)}, **{f"a{i}": a for i, a in enumerate(arrays)})
    return buf.getvalue()


_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _check_sizes(blob: bytes) -> None:
    """ValueError unless every member of the npz ``blob`` declares a size within ``MAX_STATE_BYTES``
    in total and each array header asks for no more data than its member declares. Nothing is
    inflated beyond the array headers (zipfile stops reading a member at its declared size)."""
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        members = zf.infolist()
        total = sum(m.file_size for m in members)
        if total > MAX_STATE_BYTES:
            raise ValueError(f"its members would inflate to {total:,} bytes, more than the {MAX_STATE_BYTES:,} a state "
                             f"file may hold")
        for m in members:
            with zf.open(m) as fh:
                version = np.lib.format.read_magic(fh)
                if version not in _HEADERS:
                    raise ValueError(f"member {m.filename} has .npy format {version}, not one numpy.savez writes")
                shape, _, dtype = _HEADERS[version](fh)
                need = math.prod(shape) * dtype.itemsize
                if need > m.file_size:
                    raise ValueError(f"member {m.filename} declares an array of {need:,} bytes in {m.file_size:,}")


def loads(blob: bytes, name: str = "<state>") -> Any:
    try:
        _check_sizes(blob)
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            tree = json.loads(npz[_TREE].tobytes().decode())
            arrays = {k: npz[k] for k in npz.files if k != _TREE}
        return _unpack(tree, arrays)
    except RecursionError:
        raise DataCorrupt(f"{name} is not a harness state file (its tree is nested too deeply); "
                          f"rerun that run with --force") from None
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError, EOFError, zipfile.BadZipFile,
            AttributeError) as exc:
        raise DataCorrupt(f"{name} is not a harness state file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                          f"rerun that run with --force") from None


def save(path: Path, state: Any) -> None:
    atomic.write_bytes(Path(path), dumps(state))


def load(path: Path) -> Any:
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise DataCorrupt(f"cannot read {path} ({exc.strerror}); rerun that run with --force") from None
    return loads(blob, str(path))
