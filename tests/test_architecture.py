"""The structure is part of the product: which package may import which, and no import cycles between modules.

Walks the source with `ast` (no module is imported), over module-level and function-level imports alike:

- ``detectors``, ``classifiers``, ``watchlists`` and ``redisbus`` never import ``streamer`` (the service);
- ``detectors`` and ``classifiers`` never import ``watchlists``; ``redisbus`` imports none of the domain packages;
- ``common`` imports none of the project's packages;
- no two modules import each other, directly or through others (strongly connected components of the module
  graph; a package's ``__init__`` counts as its own module).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "redisbus", "detectors", "classifiers", "watchlists", "streamer")
FORBIDDEN: dict[str, frozenset[str]] = {
    "common": frozenset(PACKAGES) - {"common"},
    "redisbus": frozenset({"streamer", "watchlists", "classifiers", "detectors"}),
    "detectors": frozenset({"streamer", "watchlists", "classifiers", "redisbus"}),
    "classifiers": frozenset({"streamer", "watchlists", "redisbus"}),
    "watchlists": frozenset({"streamer"}),
}


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else ():
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imported(name: str, path: Path) -> Iterator[str]:
    """Every module name an import statement in the file names (``from a import b`` gives ``a`` and ``a.b``)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {m for m in imported(name, path) if m in known and m != name} for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(edges[succ]))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_packages_import_only_what_they_may() -> None:
    broken = [
        f"{name} imports {target}"
        for name, path in modules().items()
        for target in imported(name, path)
        if target.split(".")[0] in FORBIDDEN.get(name.split(".")[0], frozenset())
    ]
    assert not broken, "\n".join(sorted(set(broken)))


def test_no_import_cycles_between_modules() -> None:
    assert cycles(graph()) == []


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_cycle_finder(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(edges) == expected


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from streamer.service import wiring\n")
    assert "streamer.service.wiring" in set(imported("classifiers.x", source))
