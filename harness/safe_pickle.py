"""Reading the pickles official benchmark files ship, without letting them run code.

``pickle.load`` calls whatever callable a file names, so a crafted ``.pkl`` runs arbitrary code
the moment it is opened. NASLib's NB101 and NB201 pickles hold only dicts, lists, tuples, sets,
numbers, strings and numpy arrays/scalars; ``load_plain`` resolves exactly those classes and
refuses every other global with an error naming it. Everything else in the harness is parquet,
JSON or ``.npz`` read with ``allow_pickle=False``.

The one source that needs full pickles by design is the NATS-Bench archive (``nats_bench``
unpickles its own files): importing it needs the explicit ``--allow-pickle`` opt-in.
"""
from __future__ import annotations

import io
import pickle
from typing import Any, BinaryIO

PLAIN_GLOBALS = frozenset(
    [("builtins", n) for n in ("dict", "list", "tuple", "set", "frozenset", "float", "int", "str", "bool",
                               "bytes", "complex", "slice", "range")]
    + [("collections", "OrderedDict"), ("collections", "defaultdict")]
    + [(f"numpy.{core}.multiarray", n) for core in ("core", "_core") for n in ("_reconstruct", "scalar")]
    + [(f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")]
    + [("numpy", "ndarray"), ("numpy", "dtype")]
    + [("numpy.dtypes", n) for n in ("Float64DType", "Float32DType", "Int64DType", "Int32DType", "BoolDType",
                                     "UInt8DType", "Int8DType", "Int16DType", "UInt16DType", "UInt32DType",
                                     "UInt64DType", "Float16DType", "StrDType", "BytesDType")]
)
"""The globals a pickle of plain data may name: containers, numbers, strings, numpy arrays."""


class RefusedPickle(pickle.UnpicklingError):
    """The file names a class or function a plain-data pickle never needs."""


class _PlainUnpickler(pickle.Unpickler):
    def __init__(self, fh: BinaryIO, what: str, encoding: str):
        super().__init__(fh, encoding=encoding)
        self.what = what

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in PLAIN_GLOBALS:
            raise RefusedPickle(f"it references {module}.{name}, which {self.what} never does")
        return super().find_class(module, name)


def load_plain(fh: BinaryIO, what: str = "a plain-data pickle", encoding: str = "ASCII") -> Any:
    """Unpickle ``fh`` allowing only ``PLAIN_GLOBALS``; ``what`` names the expected file in errors;
    ``encoding`` reads Python 2 strings (CIFAR-10's batches need "bytes")."""
    return _PlainUnpickler(fh, what, encoding).load()


def loads_plain(data: bytes, what: str = "a plain-data pickle", encoding: str = "ASCII") -> Any:
    return load_plain(io.BytesIO(data), what, encoding)


def looks_like_pickle(head: bytes) -> bool:
    """Pickle protocol 2+ starts with PROTO (0x80) and a protocol number 2..5."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5
