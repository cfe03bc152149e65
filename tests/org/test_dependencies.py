"""Org is the directory other contexts build on: it never depends on payroll (or any of them)."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import backoffice.org

# What org may import from the project besides itself.
ALLOWED = ("backoffice.core", "backoffice.org")


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports, at the top or inside a function, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from backoffice import payroll` names the context in the alias, not the module.
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def _org_sources() -> list[Path]:
    root = Path(backoffice.org.__path__[0])
    modules = [root / f"{m.name}.py" for m in pkgutil.iter_modules([str(root)]) if not m.ispkg]
    assert root / "service.py" in modules  # the walk sees the package
    return modules


def test_org_imports_no_other_context():
    offending = [
        f"{path.name}:{line} imports {module}"
        for path in _org_sources()
        for line, module in _imported_modules(path)
        if module.split(".")[0] == "backoffice" and not _within(module, ALLOWED)
    ]
    assert offending == []


def test_the_check_sees_a_lazy_import(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n    from backoffice.payroll.service import x\nfrom backoffice import payroll\n"
    )
    modules = [module for _, module in sorted(_imported_modules(source))]
    assert modules == ["backoffice.payroll.service.x", "backoffice.payroll"]
    assert not any(_within(module, ALLOWED) for module in modules)
