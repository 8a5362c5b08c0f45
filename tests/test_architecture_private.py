"""No module reaches into another module's private names; walked with ``ast`` over the packages, bench/ and tests/.

Flagged: ``from m import _name``, importing a private module (``m._sub``) from outside its package,
``obj._attr`` and ``getattr(obj, "_attr")`` where ``obj`` is not ``self``/``cls`` and the module itself
does not define ``_attr`` (a module may use its own private names on any object, e.g. a ticket
updating its gate; the check knows names, not types, so such a module is trusted with that name on any
object). Dunder names are public. Third-party objects count too: a library's private attribute is as
fragile as one of ours. Tests get no exception: none needs another module's private name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.test_architecture import LAYERS, ROOT

#: Everything checked: the layered packages, the benchmarks and the tests themselves.
CHECKED = (*LAYERS, "bench", "tests")
#: Underscore names that are public API: namedtuple's methods.
PUBLIC_UNDERSCORE = frozenset({"_replace", "_asdict", "_fields", "_make"})
ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "hasattr", "setattr", "delattr"})


def _private(name: str) -> bool:
    return (
        name.startswith("_") and not (name.startswith("__") and name.endswith("__")) and name not in PUBLIC_UNDERSCORE
    )


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _own_names(tree: ast.AST) -> set[str]:
    """Private names the module defines: functions, classes, module names and attributes it assigns."""
    owned: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            owned.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            owned.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            owned.add(node.attr)
    return {name for name in owned if _private(name)}


def _private_module_outside(module: str, importer: str) -> bool:
    """``module`` has a private part and ``importer`` is not inside the package holding it."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if _private(part):
            package = ".".join(parts[:i])
            return not (importer == package or importer.startswith(package + "."))
    return False


def private_uses(path: Path, root: Path = ROOT) -> list[str]:
    """``line: what`` for every use of another module's private name in the file at ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    importer = _module_name(path, root)
    owned = _own_names(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0 and _private_module_outside(module, importer):
                found.append((node.lineno, f"imports private module {module}"))
            found += [(node.lineno, f"from {module} import {a.name}") for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, f"imports private module {a.name}")
                for a in node.names
                if _private_module_outside(a.name, importer)
            ]
        elif isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in owned:
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append((node.lineno, ast.unparse(node)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ATTRIBUTE_FUNCTIONS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
            and node.args[1].value not in owned
        ):
            found.append((node.lineno, ast.unparse(node)))
    return [f"{line}: {what}" for line, what in sorted(found)]


@pytest.mark.parametrize("top", CHECKED)
def test_no_module_uses_another_modules_private_names(top: str) -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{use}" for path in sorted((ROOT / top).rglob("*.py")) for use in private_uses(path)
    ]
    assert not offending, "private names used outside their module (add a public hook):\n" + "\n".join(offending)


def test_the_checker_sees_each_kind_of_violation(tmp_path: Path) -> None:
    # Guard against a walker that finds nothing.
    package = tmp_path / "pkg"
    package.mkdir()
    module = package / "m.py"
    module.write_text(
        "from llm.llama_cpp import _LOAD_LOCK, SEED\n"
        "import ingest.parse._text\n"
        "from ingest.parse._text import Block\n"
        "\n"
        "class C:\n"
        "    def __init__(self, store):\n"
        "        self._mine = 1\n"
        "        self.__dict__.update({})\n"
        "        store._require('c')\n"
        "        other._mine = 2\n"
        "        getattr(store, '_model', None)\n"
        "        getattr(store, '_mine')\n"
    )
    assert private_uses(module, tmp_path) == [
        "1: from llm.llama_cpp import _LOAD_LOCK",
        "2: imports private module ingest.parse._text",
        "3: imports private module ingest.parse._text",
        "9: store._require",
        "11: getattr(store, '_model', None)",
    ]
    # Inside the package that holds it, a private module is fair game.
    sibling = tmp_path / "ingest" / "parse" / "docx.py"
    sibling.parent.mkdir(parents=True)
    sibling.write_text("from ingest.parse._text import Block\n")
    assert private_uses(sibling, tmp_path) == []
