"""The caller owns the transaction (issue 17).

Services take a session and never commit or roll it back: a screen's ``in_db``, the command
line's and the API's ``db.session_scope`` / ``db.one_transaction``, the workers and the tests
decide what is saved. A service that turns a database clash into a message does it in a
savepoint, so only its own part is undone. Its live event is queued on the session
(``live.publish_on_commit``): sent by the caller's commit, dropped by its rollback.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from clinic_app.live import AppointmentChanged, bus
from clinic_app.models import Appointment, AppointmentEvent, AuditLog
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform.errors import SlotTaken
from tests.conftest import at
from tests.services.helpers import now_at

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "clinic_app" / "services"
# Packages other work streams own while they are being built; they follow the same rule
# (HELPERS.md) and are checked once merged.
NOT_YET: set[str] = set()
# Where a service may open a transaction of its own, and why.
OWN_TRANSACTION = {
    # The KPI rollup is a cache of committed facts: it is refreshed in a transaction of its
    # own, apart from the dashboard's reads, so that SQLite's write lock is not held meanwhile.
    ("kpi/kpi_rollup.py", "session_scope"),
}


def _service_files():
    for path in sorted(SERVICES.rglob("*.py")):
        if path.relative_to(SERVICES).parts[0] not in NOT_YET:
            yield path


def test_no_service_commits_or_rolls_back_its_callers_transaction():
    found = []
    for path in _service_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func_ = node.func
            name = func_.attr if isinstance(func_, ast.Attribute) else func_.id if isinstance(func_, ast.Name) else ""
            where = f"{path.relative_to(SERVICES)}:{node.lineno}"
            if name in ("commit", "rollback") and isinstance(func_, ast.Attribute):
                # A part a service may undo on its own goes in ``with session.begin_nested():``.
                found.append(f"{where} {ast.unparse(func_)}()")
            if name in ("session_scope", "one_transaction") and (path.relative_to(SERVICES).as_posix(), name) not in OWN_TRANSACTION:
                found.append(f"{where} opens its own transaction ({name})")
    assert found == [], "services leave commit and rollback to their caller:\n" + "\n".join(found)


def test_the_check_above_finds_a_commit(tmp_path):
    """The AST walk really sees ``session.commit()`` (guards the test against going blind)."""
    tree = ast.parse("def f(session):\n    session.add(1)\n    session.commit()\n")
    calls = [n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    assert "commit" in calls


def _book(session, clinic, hour: int = 10) -> Appointment:
    return scheduling.book_appointment(  # not tests.services.helpers.book: that one commits
        session, actor=clinic.reception, patient_id=clinic.patients[0].id, provider_id=clinic.providers[0].id,
        appointment_type_id=clinic.treatment.id, starts_at=at(f"{hour:02d}:00"), now=now_at("07:00"),
    )


def _visits(engine) -> int:
    with Session(engine) as other:
        return other.exec(select(func.count()).select_from(Appointment)).one()


def test_a_booking_is_not_saved_and_not_announced_until_its_caller_commits(engine, clinic):
    with bus.held() as sent, Session(engine, expire_on_commit=False) as session:
        appointment = _book(session, clinic)
        assert appointment.id is not None  # flushed: the caller can use the id at once
        assert sent == []  # no screen hears of a booking that is not saved
        session.rollback()
        assert _visits(engine) == 0  # the caller's rollback leaves no visit ...
        with Session(engine) as other:  # ... nor its history or audit record
            assert other.exec(select(func.count()).select_from(AppointmentEvent)).one() == 0
            assert other.exec(select(AuditLog).where(AuditLog.entity == "appointment")).first() is None
        session.commit()  # a later commit of the same session sends nothing of it
    assert sent == []


def test_a_committed_booking_is_announced_once_by_the_commit(engine, clinic):
    with bus.held() as sent, Session(engine, expire_on_commit=False) as session:
        appointment = _book(session, clinic)
        assert sent == []
        session.commit()
        assert [type(e) for e in sent] == [AppointmentChanged]
        assert sent[0].appointment_id == appointment.id
    assert _visits(engine) == 1


def test_a_clash_undoes_only_the_services_own_part_and_the_caller_goes_on(engine, clinic):
    """The slot clash is caught in a savepoint: the caller's earlier work in the same transaction
    stays, the session stays usable, and the refused booking sends no event."""
    with bus.held() as sent, Session(engine, expire_on_commit=False) as session:
        first = _book(session, clinic, hour=10)
        with pytest.raises(SlotTaken):
            _book(session, clinic, hour=10)
        second = _book(session, clinic, hour=14)  # the same transaction goes on
        session.commit()
        assert sorted(e.appointment_id for e in sent) == sorted([first.id, second.id])
    assert _visits(engine) == 2


def test_a_service_error_after_the_callers_work_leaves_the_callers_choice(engine, clinic):
    """A refusal raised by a service does not end the caller's transaction: the caller decides
    (here it rolls back, and nothing of either booking is saved)."""
    with bus.held() as sent, Session(engine, expire_on_commit=False) as session:
        _book(session, clinic, hour=10)
        with pytest.raises(SlotTaken):
            _book(session, clinic, hour=10)
        assert session.in_transaction()
        session.rollback()
    assert sent == []
    assert _visits(engine) == 0


def test_a_status_change_rolled_back_by_its_caller_is_not_announced(engine, session, clinic):
    appointment = _book(session, clinic)
    session.commit()
    with bus.held() as sent:
        scheduling.transition(session, actor=clinic.reception, appointment_id=appointment.id, to_status="arrived",
                              now=now_at("10:00"))
        assert session.get(Appointment, appointment.id).status == "arrived"  # the caller sees its own work
        session.rollback()
    assert sent == []
    assert session.get(Appointment, appointment.id).status == "booked"
