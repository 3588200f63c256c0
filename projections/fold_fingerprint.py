"""The fold's fingerprint: which code made a timeline.

A timeline snapshot (ClickHouse ``timelines``) carries the digest of the event ids it folded;
that proves *which events*, not that today's fold would turn them into the same document. The
fingerprint is a digest of the source of every module of this project that the fold and the
timeline's encoding import, directly or not (:data:`ROOTS`, followed through their ``wismo.*``
and ``projections.*`` imports). A snapshot written with the fingerprint of the running code can
stand in for a refold of its events (:mod:`projections.rebuild`); any edit to one of those
modules, even a comment, gives a new fingerprint and so a full refold once.

Computed from the source files, not from what a process happens to have imported, so every
process of one release agrees on it.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from pathlib import Path

#: the fold and the canonical JSON of its timeline
ROOTS = ("projections.timeline", "projections.serialize")
#: the packages whose modules count (third-party code is pinned by the release)
OWN = ("wismo", "projections")


def _source(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # an attribute of a module (``from module import name``)
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imports(module: str, tree: ast.Module) -> set[str]:
    """The project modules ``module`` imports (a ``from package import name`` may name a
    module or an attribute: both are tried)."""
    found: set[str] = set()
    package = module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in OWN}


def modules() -> list[str]:
    """Every project module the fold depends on, sorted."""
    seen: set[str] = set()
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _source(name)
        if path is None:
            continue
        seen.add(name)
        todo += _imports(name, ast.parse(path.read_bytes(), str(path))) - seen
    return sorted(seen)


@functools.cache
def fold_fingerprint() -> str:
    """16 hex characters naming the fold's code (cached: computed once per process)."""
    h = hashlib.blake2b(digest_size=8)
    for name in modules():
        path = _source(name)
        assert path is not None  # listed by modules() only when it has a source
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()
