"""The task rules at scale: the sweep from scratch, a biller's inbox, a rule's reaction to an event.

What is measured
    On a clinic made by bench/generate.py (1,000,000 appointments by default):
    1. the sweep from scratch (no task in the database): ``rules.sweep``, every rule's
       condition over every subject at once, the missing tasks opened and the ended ones closed
       in bulk, in one transaction, as the daily sweep runs it (target under 60 s); then per
       rule (each alone, again from scratch), and a second sweep on top of the first (nothing
       to change: what the daily sweep costs on a usual day);
    2. a biller's inbox with at least 5,000 open tasks (the claim and balance rules' tasks,
       topped up with hand-made ones for the billers' queue if the data make fewer): the first
       page (50 by due date, with its count and audit row), p50/p95/max over ``--runs``
       (target p95 under 100 ms); on PostgreSQL after ``VACUUM ANALYZE task`` (what autovacuum
       does soon after the sweep's bulk insert and the trimming's bulk delete);
    3. event to badge: a desk books the visit that leaves an episode with 2 authorised visits
       (the service, committed); from that commit, the time until the badge's change is ready
       to go out: the task worker's work for the AppointmentChanged event
       (``tasks_worker.on_appointment``: the rules of the visit's episode, patient and note,
       the authorisation task opened, committed, TasksChanged published on commit) and the
       live surface's change built once for every open inbox and badge (what ``state/tasks.py``
       ``_changes`` does: the changed rows and the open counts per owner). p50/p95/max over
       ``--events`` bookings (target p95 under 150 ms). Not in it: the bus hop and the socket
       write to the browser, which bench/live_latency.py measures for the board's deltas on
       the same spine (the bus and the socket writes are the same for every surface).

How
    python bench/generate.py --db URL          (once)
    python bench/tasks_sweep.py --db URL [--runs 50] [--events 30] [--keep]
    The benchmark writes tasks and bench bookings into the generated database; the tasks are
    deleted at the end unless --keep, the bench bookings are cancelled.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, func, text
from sqlmodel import Session, select

from bench.scale_common import dataset_today, figures, header, open_engine
from clinic_app.models import RELEASED, Appointment, AppointmentType, CareCase, CaseVisit, Patient, Task, User
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform import auth
from clinic_app.services.platform.actor import Actor
from clinic_app.services.tasks import inbox, rules

OPEN_TASKS = 5000


def sweep_from_scratch(engine, now) -> None:
    with Session(engine, expire_on_commit=False) as session:
        session.exec(delete(Task))
        session.commit()
        started = time.perf_counter()
        counts = rules.sweep(session, now=now)
        session.commit()
        total = time.perf_counter() - started
        print(f"sweep from scratch, every rule, one transaction: {total:.1f} s, {sum(counts.values()):,} tasks opened "
              f"(target under 60 s: {'met' if total < 60 else 'NOT met'})")
        started = time.perf_counter()
        again = rules.sweep(session, now=now)
        session.commit()
        print(f"the same sweep again (nothing to change): {time.perf_counter() - started:.1f} s, "
              f"{sum(again.values())} tasks changed")
        for kind in rules.RULES:
            session.exec(delete(Task).where(Task.kind == kind))
            session.commit()
            started = time.perf_counter()
            opened = rules.sweep(session, now=now, kinds=(kind,))[kind]
            session.commit()
            print(f"  {kind:<17} {time.perf_counter() - started:8.2f} s  {opened:>7,} tasks")


def _time_inbox(session, actor, now, runs, what: str) -> None:
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        page = inbox.inbox(session, actor=actor, now=now)
        session.commit()
        times.append((time.perf_counter() - started) * 1000)
    p50, p95, worst = figures(times[1:])
    print(f"inbox first page, {what} ({page['total']:,} open, {len(page['rows'])} shown): p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms, max {worst:.1f} ms (target p95 under 100 ms at 5,000: {'met' if p95 < 100 else 'NOT met'})")


def settle(engine) -> None:
    """PostgreSQL after a bulk insert or delete: what autovacuum does soon after (fresh planner
    statistics, dead rows gone), so that the inbox is timed on a table in its usual state."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE task"))


def biller_inbox(engine, now, runs) -> None:
    """The biller's inbox as the sweep left it, then with 5,000 open tasks (the target's case)."""
    settle(engine)
    with Session(engine, expire_on_commit=False) as session:
        biller = session.exec(select(User).where(User.role == "biller", User.active)).first()
        if biller is None:
            biller = auth.create_user(session, actor=None, username="bench_biller", full_name="Bench Biller",
                                      password="bench-biller-password", role="biller")
            session.commit()
        actor = auth.actor_for(biller)
        have = inbox.open_count(session, actor=actor)
        if have > OPEN_TASKS:
            _time_inbox(session, actor, now, runs, "every task the sweep gave the billers")
            keep = select(Task.id).where(Task.queue_role == "biller", Task.status == "open").order_by(Task.id).limit(OPEN_TASKS)
            session.exec(delete(Task).where(Task.queue_role == "biller", Task.id.not_in(keep)))
            session.commit()
            settle(engine)
        have = inbox.open_count(session, actor=actor)
        if have < OPEN_TASKS:
            patients = session.exec(select(Patient.id).limit(OPEN_TASKS - have)).all()
            day = now.date()
            session.add_all([Task(kind=rules.HAND_MADE, patient_id=p, title=f"Bench task {i}", queue_role="biller",
                                  due_on=day + dt.timedelta(days=i % 60), created_at=now) for i, p in enumerate(patients)])
            session.commit()
        _time_inbox(session, actor, now, runs, "a biller with 5,000 open tasks")


def event_to_badge(engine, now, events) -> None:
    """Bookings that leave an episode with 2 authorised visits; from their commit to the badge's change."""
    desk = Actor(user_id=1, role="reception", name="bench desk")
    with Session(engine, expire_on_commit=False) as session:
        treatment = session.exec(select(AppointmentType.id).where(func.lower(AppointmentType.name) == "treatment")).first()
        upcoming = (select(CaseVisit.case_id).join(Appointment, Appointment.id == CaseVisit.appointment_id)
                    .where(Appointment.starts_at >= now, Appointment.status.not_in(RELEASED)))
        case_id, patient_id = session.exec(select(CareCase.id, CareCase.patient_id)
                                           .where(CareCase.active, CareCase.id.in_(upcoming)).order_by(CareCase.id)).first()
        provider_id, last_start = session.exec(
            select(Appointment.provider_id, Appointment.starts_at).join(CaseVisit, CaseVisit.appointment_id == Appointment.id)
            .where(CaseVisit.case_id == case_id, Appointment.status.not_in(RELEASED))  # not an earlier run's
            .order_by(Appointment.starts_at.desc())).first()
        episode = session.get(CareCase, case_id)
        kept = (episode.authorized_visits, episode.auth_end)
        used = session.exec(select(func.count(CaseVisit.id)).join(Appointment, Appointment.id == CaseVisit.appointment_id)
                            .where(CaseVisit.case_id == case_id, Appointment.status.not_in(RELEASED))).one()
        episode.authorized_visits, episode.auth_end = used + 3, None  # 3 left: the next booking leaves 2
        session.add(episode)
        rules.evaluate(session, "authorisation", case_id, now=now)
        session.commit()
    times, opened = [], 0
    for run in range(events + 2):
        with Session(engine, expire_on_commit=False) as session:
            # the provider's own weekday and hour, weeks past the generated bookings: free, in their hours
            appt = scheduling.book_appointment(session, actor=desk, patient_id=patient_id, provider_id=provider_id,
                                               appointment_type_id=treatment, starts_at=last_start + dt.timedelta(weeks=8 + run),
                                               case_id=case_id, now=now)
            session.commit()
            appointment_id = appt.id
        started = time.perf_counter()
        with Session(engine, expire_on_commit=False) as session:  # tasks_worker.on_appointment, with the bench's "now"
            touched = rules.on_appointment(session, appointment_id, now=now)
            session.commit()
        with Session(engine, expire_on_commit=False) as session:  # state/tasks.py _changes: once for every open badge
            change = {"rows": inbox.changed_rows(session, touched), "counts": inbox.counts_by_owner(session),
                      "today": rules.today(session).isoformat()}
            session.commit()
        took = (time.perf_counter() - started) * 1000
        if run >= 2:  # the first two warm the caches
            times.append(took)
        opened += any(row["kind"] == "authorisation" and row["status"] == "open" for row in change["rows"])
        with Session(engine, expire_on_commit=False) as session:  # back to 3 left (not timed)
            scheduling.transition(session, actor=desk, appointment_id=appointment_id, to_status="cancelled",
                                  reason="Bench booking", now=now)
            rules.on_appointment(session, appointment_id, now=now)
            session.commit()
    with Session(engine, expire_on_commit=False) as session:
        episode = session.get(CareCase, case_id)
        episode.authorized_visits, episode.auth_end = kept
        session.add(episode)
        session.commit()
    p50, p95, worst = figures(times)
    print(f"event to badge (booking committed -> task opened, committed, badge change built): p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms, max {worst:.1f} ms over {len(times)} bookings, the task opened in {opened} of {events + 2} "
          f"(target p95 under 150 ms: {'met' if p95 < 150 else 'NOT met'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the tasks the sweep made")
    args = parser.parse_args()
    engine = open_engine(args.db)
    print(header(engine, "Task rules: the sweep from scratch, a biller's inbox, event to badge"))
    now = dt.datetime.combine(dataset_today(engine), dt.time(7), tzinfo=ZoneInfo("America/New_York")).astimezone(dt.UTC)
    sweep_from_scratch(engine, now)
    biller_inbox(engine, now, args.runs)
    event_to_badge(engine, now, args.events)
    if not args.keep:
        with Session(engine) as session:
            session.exec(delete(Task))
            session.commit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
