"""Event handlers keep database work off the worker's event loop.

Every Reflex worker serves all its browsers' event handlers and the live push to every open
board from one asyncio loop. A query, or a wait for SQLite's write lock (BEGIN IMMEDIATE),
run directly in a handler stalls every other socket of that worker meanwhile. So the state
and page modules open a database session only in functions that run on a worker thread:
handlers pass their database work to ``common.in_db``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted([*ROOT.glob("clinic_app/state/*.py"), *ROOT.glob("clinic_app/pages/*.py")])

# The only functions of these modules that may open a session, each run on a worker thread.
ON_A_THREAD = {
    # in_db's own body: asyncio.to_thread(run).
    ("clinic_app/state/common.py", "in_db.run"),
    # The live surfaces' builders: live_push runs each through asyncio.to_thread, once per event.
    ("clinic_app/state/calendar.py", "changed_card"),
    ("clinic_app/state/billing.py", "_queue_row"),
    ("clinic_app/state/billing.py", "_claim_sections"),
    ("clinic_app/state/kpi.py", "_kpis"),
    ("clinic_app/state/kpi.py", "_task_workload"),
    ("clinic_app/state/chart.py", "live_row"),
    ("clinic_app/state/messages.py", "thread_change"),
    ("clinic_app/state/portal_messages.py", "portal_change"),
    ("clinic_app/state/portal_pay.py", "payments_change"),
    ("clinic_app/state/portal_register.py", "waiting_rows"),
    ("clinic_app/state/tasks.py", "_changes"),
    # A patient's own registration hashes their password: on the sign-in hashing pool (limits.hash_pool).
    ("clinic_app/state/portal_register.py", "RegisterState.submit.work"),
    # The KPI dashboard's warm-up at start-up, a lifespan task: through asyncio.to_thread.
    ("clinic_app/state/kpi.py", "warm_up.run"),
}
# What opens a session or a connection of its own.
OPENERS = {"session_scope", "engine", "Session"}


def _openings(source: str) -> list[tuple[str, int]]:
    """(enclosing function's dotted name, line) of every use of an opener in a module.

    A use is a call or a reference (``in_db`` could be handed ``session_scope`` itself);
    imports and type annotations are not uses.
    """
    found: list[tuple[str, int]] = []

    class Visitor(ast.NodeVisitor):
        def __init__(self) -> None:
            self.scope: list[str] = []

        def _function(self, node) -> None:
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    self.visit(default)
            for decorator in node.decorator_list:
                self.visit(decorator)
            self.scope.append(node.name)
            for statement in node.body:
                self.visit(statement)
            self.scope.pop()

        visit_FunctionDef = visit_AsyncFunctionDef = _function

        def visit_ClassDef(self, node: ast.ClassDef) -> None:
            self.scope.append(node.name)
            for statement in node.body:
                self.visit(statement)
            self.scope.pop()

        def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
            if node.value is not None:
                self.visit(node.value)

        def visit_Name(self, node: ast.Name) -> None:
            if node.id in OPENERS:
                found.append((".".join(self.scope), node.lineno))

        def visit_Attribute(self, node: ast.Attribute) -> None:
            if node.attr in OPENERS:
                found.append((".".join(self.scope), node.lineno))
            self.generic_visit(node)

    Visitor().visit(ast.parse(source))
    return found


def _outside_threads(path: str, source: str) -> list[str]:
    """Every opening not in an allowed function, as 'path:line in function'."""
    return [f"{path}:{line} in {where or 'the module'}" for where, line in _openings(source)
            if (path, where) not in ON_A_THREAD]


def test_state_and_page_modules_open_sessions_only_on_worker_threads():
    assert len(MODULES) > 20  # the globs found the modules
    offending = []
    for module in MODULES:
        path = module.relative_to(ROOT).as_posix()
        offending += _outside_threads(path, module.read_text())
    assert offending == [], "open the session in in_db(...) instead:\n" + "\n".join(offending)


def test_the_allowed_functions_exist():
    """An allow-list entry whose function was renamed or removed would silently allow nothing."""
    for path, where in ON_A_THREAD:
        assert where in {w for w, _ in _openings((ROOT / path).read_text())}, (path, where)


def test_the_check_catches_a_handler_that_opens_a_session_on_the_loop():
    handler = (
        "from clinic_app.db import session_scope\n"
        "from clinic_app.state.common import in_db\n"
        "class S:\n"
        "    async def load(self):\n"
        "        with session_scope() as session:\n"
        "            self.rows = session.exec(q).all()\n"
        "    async def fine(self):\n"
        "        self.rows = await in_db(lambda s: s.exec(q).all())\n"
        "    async def sneaky(self):\n"
        "        await in_db(lambda s: None)\n"
        "        with db.session_scope() as session:\n"
        "            pass\n"
        "        with Session(db.engine()) as other:\n"
        "            pass\n"
    )
    assert _outside_threads("clinic_app/state/x.py", handler) == [
        "clinic_app/state/x.py:5 in S.load",
        "clinic_app/state/x.py:11 in S.sneaky",
        "clinic_app/state/x.py:13 in S.sneaky",
        "clinic_app/state/x.py:13 in S.sneaky",
    ]
    # The same opening is allowed where it runs on a thread.
    threaded = "def in_db(work):\n    def run():\n        with session_scope() as session:\n            return work(session)\n"
    assert _outside_threads("clinic_app/state/common.py", threaded) == []
