"""Every benchmark the harness knows, by name: the one lookup the CLI, ``data fetch`` and the
runner use. Each entry lives in its benchmark's package (``blackboxes/<name>/__init__.py``)."""
from __future__ import annotations

from blackboxes import enas, enas6, nb101, nb201, randwire
from blackboxes.entry import Benchmark
from harness.errors import HarnessError

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b for b in (nb201.BENCHMARK, nb101.BENCHMARK, randwire.BENCHMARK, enas.BENCHMARK, enas6.BENCHMARK)
}


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise HarnessError(f"unknown space {name!r}; valid: {', '.join(sorted(BENCHMARKS))}") from None


def with_tables() -> list[Benchmark]:
    """Benchmarks whose answers come from an imported table (``data import | list | verify``)."""
    return [b for b in BENCHMARKS.values() if b.table]


def table_benchmark(name: str) -> Benchmark:
    """The benchmark ``data import | fetch | verify NAME`` means; a one-line error otherwise."""
    tables = [b.name for b in with_tables()]
    if name not in tables:
        raise HarnessError(f"unknown benchmark {name!r}; valid: {', '.join(tables)}")
    return BENCHMARKS[name]
