"""The house's layers, read from the code (README "Layout"): services are grouped by business
area and free of Reflex, and no module reaches into another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AREAS = {"frontdesk", "charting", "revenue", "interop", "kpi", "platform", "messaging", "tasks", "portal"}


def _modules(folder: str):
    for path in sorted((ROOT / folder).rglob("*.py")):
        yield path, ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_services_live_in_their_business_area():
    flat = [p.name for p in (ROOT / "clinic_app/services").glob("*.py")]
    assert flat == [], f"modules outside an area: {flat}"
    assert {p.name for p in (ROOT / "clinic_app/services").iterdir() if p.is_dir() and p.name != "__pycache__"} == AREAS


def test_services_do_not_import_reflex():
    for path, _ in _modules("clinic_app/services"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "reflex" or n.startswith(("reflex.", "clinic_app.state", "clinic_app.pages")) for n in names), \
                f"{path.relative_to(ROOT)}:{node.lineno} imports {names}"


def test_no_module_imports_another_modules_private_names():
    found = []
    for path, module in _modules("clinic_app"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("clinic_app") and node.module != module:
                found += [f"{path.relative_to(ROOT)}:{node.lineno} {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []


# Imports made inside a function because the two modules import each other: none (each cycle
# was broken by moving the shared piece down or splitting a module). Keep it empty: a cycle is
# broken, not hidden inside a function.
LATE_FOR_A_CYCLE: set[tuple[str, str]] = set()


def test_services_import_at_the_top_except_the_listed_cycles():
    """An import inside a function hides a cycle (or costs every call a look-up): services import
    at the top; type-only imports under TYPE_CHECKING are not imports at run time."""
    found = set()
    for path, _ in _modules("clinic_app/services"):
        tree = ast.parse(path.read_text())
        type_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
                     for n in ast.walk(block)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.col_offset and id(node) not in type_only \
                    and (node.module or "").startswith("clinic_app"):
                found.add((path.relative_to(ROOT / "clinic_app/services").as_posix(), node.module))
    assert found <= LATE_FOR_A_CYCLE, f"imports inside functions: {sorted(found - LATE_FOR_A_CYCLE)}"
