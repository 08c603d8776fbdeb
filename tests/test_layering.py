"""The house's layers, read from the code (README "Layout"): services are grouped by business
area and free of Reflex, and no module reaches into another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AREAS = {"frontdesk", "charting", "revenue", "interop", "kpi", "platform", "portal"}


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
