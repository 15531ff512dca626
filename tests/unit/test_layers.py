"""Imports point one way (DESIGN §6): from the app through the assembly point, the
edge and the areas to the foundations, so no packages under src/keyplane import one
another in a circle, of two or of more. Use cases do not depend on the web
framework's edge: no service imports keyplane.http."""

from __future__ import annotations

import ast
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "keyplane"


def _imports() -> dict[tuple[str, str], str]:
    edges: dict[tuple[str, str], str] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if "migrations" in rel.parts:
            continue
        own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keyplane."):
                target = (node.module or "").split(".")[1]
                if target != own:
                    edges.setdefault((own, target), f"{rel}:{node.lineno}")
    return edges


def test_no_two_packages_import_each_other():
    edges = _imports()
    pairs = defaultdict(list)
    for (a, b), where in edges.items():
        if (b, a) in edges and a < b:
            pairs[(a, b)] = [where, edges[(b, a)]]
    assert dict(pairs) == {}


def _circle(edges: dict[tuple[str, str], str]) -> list[str]:
    """One circle of imports among packages (each step with the import that makes it),
    or [] if there is none."""
    after: dict[str, list[str]] = defaultdict(list)
    for a, b in sorted(edges):
        after[a].append(b)
    done: set[str] = set()

    def walk(package: str, path: list[str]) -> list[str]:
        if package in path:
            loop = [*path[path.index(package) :], package]
            return [f"{a} -> {b} ({edges[(a, b)]})" for a, b in pairwise(loop)]
        if package in done:
            return []
        for target in after[package]:
            if found := walk(target, [*path, package]):
                return found
        done.add(package)
        return []

    for package in sorted(after):
        if found := walk(package, []):
            return found
    return []


def test_no_packages_import_one_another_in_a_circle():
    assert _circle(_imports()) == []


def test_the_circle_finder_finds_a_circle_of_three():
    edges = {("a", "b"): "a.py:1", ("b", "c"): "b.py:1", ("c", "a"): "c.py:1"}
    assert _circle(edges) == ["a -> b (a.py:1)", "b -> c (b.py:1)", "c -> a (c.py:1)"]
    assert _circle({("a", "b"): "a.py:1", ("b", "c"): "b.py:1"}) == []


def test_only_the_app_imports_the_assembly_point():
    """The routes read the process through protocols (keyplane.http.process, an
    area's own), so the runtime can import every area without a circle."""
    importers = sorted(
        {where.split(":")[0] for (a, b), where in _imports().items() if b == "runtime"}
    )
    assert importers == ["app.py"]


def test_the_domain_imports_no_other_package():
    assert sorted(b for (a, b) in _imports() if a == "domain") == []


def test_no_service_imports_keyplane_http():
    offenders = []
    for path in sorted(SRC.glob("*/service.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keyplane.http"):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {node.module}")
    assert not offenders, (
        "services take what they need as arguments and import keyplane.db.paging for "
        f"paging, never keyplane.http: {offenders}"
    )
