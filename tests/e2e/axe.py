"""axe-core in the page: accessibility checks that every e2e test of a screen runs.

axe-core is pinned from the npm registry (the Makefile installs it into tools/axe) and
injected by Playwright; a page passes when axe finds no critical or serious violation.
"""

from __future__ import annotations

import os
from pathlib import Path

from clinic_app.settings import PROJECT_ROOT

AXE_JS = PROJECT_ROOT / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("critical", "serious")


def _source() -> str:
    if not AXE_JS.exists():
        raise RuntimeError(f"axe-core is missing at {AXE_JS}: run `make install` (it installs tools/axe)")
    return AXE_JS.read_text()


def violations(page, *, include: str | None = None) -> list[dict]:
    """axe-core's critical and serious violations on the page as it is now (or inside ``include``)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated, not added as an inline <script>: the app's Content-Security-Policy runs no
        # inline script that is not its own.
        page.evaluate(_source() + "\n;true")
    found = page.evaluate(
        """async (include) => {
            const r = await axe.run(include || document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || ''))}));
        }""",
        include,
    )
    return [v for v in found if v["impact"] in BLOCKING]


def assert_accessible(page, what: str, *, include: str | None = None) -> None:
    """Fail naming every critical or serious axe-core violation on ``what`` (a page or panel)."""
    found = violations(page, include=include)
    if found:
        lines = [f"{v['impact']}: {v['id']} ({v['help']})\n    " + "\n    ".join(v["nodes"]) for v in found]
        raise AssertionError(f"axe-core found {len(found)} blocking violation(s) on {what}:\n" + "\n".join(lines))


def screenshot(page, name: str) -> Path:
    """Save a screenshot of the screen as its user sees it.

    Into docs/screens/ (committed; a developer looks at each) when CLINIC_SCREENSHOTS=docs,
    e.g. `CLINIC_SCREENSHOTS=docs python -m pytest tests/e2e/test_board.py`; otherwise into
    test-results/screens/, so that a test run leaves the checkout as it was.
    """
    folder = ("docs", "screens") if os.environ.get("CLINIC_SCREENSHOTS") == "docs" else ("test-results", "screens")
    out = PROJECT_ROOT.joinpath(*folder, f"{name}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out), full_page=False)
    return out
