"""Which code produced a run: a digest per part (strategy, space, evaluator, engine).

A result is current only if the code that would produce it now is the code that did. Each part's
digest covers its module and every module of the same project it imports, transitively (read
from the source's ``import`` statements, also those inside functions), as parsed code with
docstrings removed: editing a comment or a docstring changes no result and no digest, editing a
statement does. Libraries outside the project (numpy, torch) are pinned by the manifest's
versions instead.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.machinery
import importlib.util
from pathlib import Path

PROJECT_PACKAGES = ("harness", "spaces", "strategies", "blackboxes")


def _module_file(name: str) -> Path | None:
    """The source file of a module, found without importing it or its packages
    (``importlib.util.find_spec("a.b")`` would run ``a/__init__.py``, and with it torch)."""
    top, *rest = name.split(".")
    try:
        spec = importlib.util.find_spec(top)
        for k in range(len(rest)):
            locations = getattr(spec, "submodule_search_locations", None) if spec else None
            if not locations:
                return None
            spec = importlib.machinery.PathFinder.find_spec(".".join([top, *rest[: k + 1]]), list(locations))
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None) if spec else None
    return Path(origin) if origin and origin.endswith(".py") else None


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    package = module if is_package else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


@functools.lru_cache(maxsize=512)
def _parsed(name: str) -> tuple[str, frozenset[str]] | None:
    """(code digest, imported module names) of one module, or None when it has no Python source."""
    path = _module_file(name)
    if path is None:
        return None
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imports = _imports(tree, name, path.name == "__init__.py")
    code = ast.dump(_strip_docstrings(tree), include_attributes=False)
    return hashlib.sha256(code.encode()).hexdigest(), frozenset(imports)


def _ours(name: str, roots: tuple[str, ...]) -> bool:
    return name.split(".")[0] in roots


NOT_ENGINE = frozenset({"strategies.registry", "blackboxes.registry", "harness.fingerprint"})
"""Modules the engine imports that decide no result: the name -> module lookup tables (a run's
strategy, space and evaluator digests are computed from the modules its names resolve to, so
registering a new strategy or editing a benchmark's listing stales nothing) and this module."""


@functools.lru_cache(maxsize=256)
def digest(module: str, exclude: frozenset[str] = frozenset()) -> str:
    """The digest of ``module`` and every module of its project it imports, transitively, not
    following the modules in ``exclude``."""
    roots = tuple(dict.fromkeys(PROJECT_PACKAGES + (module.split(".")[0],)))
    seen: dict[str, str] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or name in exclude:
            continue
        parsed = _parsed(name)
        if parsed is None:
            continue
        seen[name], imports = parsed
        todo.extend(i for i in imports if _ours(i, roots) and i not in seen)
    h = hashlib.sha256()
    for name in sorted(seen):
        h.update(f"{name}:{seen[name]}\n".encode())
    return h.hexdigest()[:16]


def code_fingerprint(strategy_target: str, space_target: str, evaluator_target: str) -> dict[str, str]:
    """The digests of the four parts a trajectory depends on (targets are ``"module:attr"``)."""
    return {
        "strategy": digest(strategy_target.partition(":")[0]),
        "space": digest(space_target.partition(":")[0]),
        "evaluator": digest(evaluator_target.partition(":")[0]),
        "engine": digest("harness.runner", NOT_ENGINE),
    }


def changed_parts(stored: dict | None, now: dict[str, str]) -> list[str]:
    """Which parts differ ("unknown" for a manifest written before fingerprints existed)."""
    if not isinstance(stored, dict):
        return ["unknown (the run predates code fingerprints)"]
    return [part for part, d in now.items() if stored.get(part) != d]
