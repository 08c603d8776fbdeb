"""The README's role x action matrix is the one the services enforce (permissions.PERMISSIONS)."""

import re
from pathlib import Path

from clinic_app.services.platform.permissions import PERMISSIONS

ROLES = ["reception", "clinician", "biller", "manager", "admin"]
ROW = re.compile(r"^\s*\| .* \(`(?P<action>[a-z_.]+)`\) \|(?P<cells>.*)\|\s*$")


def test_readme_matrix_matches_the_enforced_permissions():
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    written = {}
    for line in text.splitlines():
        found = ROW.match(line)
        if found:
            cells = [c.strip() for c in found["cells"].split("|")]
            assert len(cells) == len(ROLES), line
            written[found["action"]] = frozenset(r for r, c in zip(ROLES, cells, strict=True) if c == "yes")
    assert written == {action: frozenset(roles) for action, roles in PERMISSIONS.items()}
