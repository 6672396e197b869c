"""The layers import downward only: core <- spaces <- strategies / blackboxes <- engine.

Every ``import`` in every module is read (also those inside functions), so a shortcut upward
cannot hide in a lazy import. The layers are listed in README "Layout".
"""
from __future__ import annotations

import ast

import pytest
from conftest import PROJECT_ROOT

CORE = {
    "harness", "harness.contracts", "harness.errors", "harness.seeding", "harness.atomic", "harness.statefile",
    "harness.registry", "harness.devices", "harness.malloc", "harness.safe_pickle", "harness.locks", "harness.data",
    "harness.data.store", "harness.data.download", "harness.data.values", "harness.data.formats",
}
"""The bottom layer: the shared types and the plumbing every other layer uses."""

ALLOWED = {
    "core": {"core"},
    "spaces": {"core", "spaces"},
    "strategies": {"core", "spaces", "strategies"},
    "blackboxes": {"core", "spaces", "blackboxes"},
    "engine": {"core", "spaces", "strategies", "blackboxes", "engine"},
}


def layer(module: str) -> str:
    if module in CORE:
        return "core"
    top = module.split(".")[0]
    if top in ("spaces", "strategies", "blackboxes"):
        return top
    if top == "harness":
        return "engine"
    return "external"


def _modules():
    for package in ("harness", "spaces", "strategies", "blackboxes"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            rel = path.relative_to(PROJECT_ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            yield ".".join(parts), path


def _imports(module: str, path) -> set[str]:
    out = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)
    return out


MODULES = {name for name, _ in _modules()}


@pytest.mark.parametrize("module,path", list(_modules()), ids=lambda v: v if isinstance(v, str) else "")
def test_imports_point_down(module, path):
    mine = layer(module)
    upward = sorted(i for i in _imports(module, path) if layer(i) != "external" and layer(i) not in ALLOWED[mine])
    assert not upward, f"{module} ({mine}) imports {upward}: a {mine} module may import only {sorted(ALLOWED[mine])}"


def test_contracts_import_only_errors():
    path = PROJECT_ROOT / "harness" / "contracts.py"
    ours = {i for i in _imports("harness.contracts", path) if layer(i) != "external"}
    assert ours <= {"harness.errors"}, ours


def test_every_module_is_in_a_layer():
    assert {layer(m) for m in MODULES} <= set(ALLOWED)
