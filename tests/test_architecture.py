"""The package layers of the README's architecture section, enforced by walking every import with ``ast``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

#: Lowest first; a package may import only from packages at or below its own layer.
LAYERS: tuple[str, ...] = (
    "kernel",
    "llm",
    "knowledge",
    "retrieval",
    "ingest",
    "answer",
    "evaluation",
    "adaptation",
    "app",
)


def _package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_packages(path: Path) -> set[str]:
    """Top-level project packages a module imports (absolute imports, lazy ones inside functions too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(LAYERS)


def test_every_project_package_has_a_layer() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == set(LAYERS), f"give every top-level package a layer: {sorted(packages ^ set(LAYERS))}"


@pytest.mark.parametrize("package", LAYERS)
def test_no_import_reaches_a_higher_layer(package: str) -> None:
    rank = LAYERS.index(package)
    allowed = set(LAYERS[: rank + 1])
    offending = [
        f"{path.relative_to(ROOT)} imports {sorted(_imported_packages(path) - allowed)}"
        for path in _package_files(package)
        if _imported_packages(path) - allowed
    ]
    assert not offending, "imports from a higher layer:\n" + "\n".join(offending)


def test_no_package_level_import_circle() -> None:
    graph = {pkg: set().union(*(_imported_packages(p) for p in _package_files(pkg))) - {pkg} for pkg in LAYERS}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or reaches(nxt, goal, seen | {nxt}) for nxt in graph[start] - seen)

    circles = [pkg for pkg in LAYERS if reaches(pkg, pkg, set())]
    assert not circles, f"packages in an import circle: {circles}"


def test_readme_states_the_enforced_layer_order() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^Layers \(lowest first\): (.+)$", text, flags=re.MULTILINE)
    assert match is not None, "README's architecture section must state 'Layers (lowest first): a -> b -> ...'"
    assert tuple(part.strip(" `.") for part in match.group(1).split("->")) == LAYERS


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    # Guard against a walker that finds nothing: a lazy import inside a function counts.
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from app.cli import main\n    import retrieval.search\n")
    assert _imported_packages(module) == {"app", "retrieval"}
