"""The task inbox in Chromium: a visit booked past an authorisation raises the desk's task badge
live (the rule runs on the live bus in the app), the task opens the patient's profile,
completing it in one browser takes it off a second desk's inbox live; axe-core on /tasks;
the inbox at 1366x768 (docs/screens/tasks-inbox.png with CLINIC_SCREENSHOTS=docs)."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import Appointment, AppointmentType, CareCase, CaseVisit, Location, Patient, Provider, Room
from clinic_app.services.platform import auth
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e
WIDE = {"width": 1366, "height": 768}


def nine_am_zone() -> str:
    """An IANA zone in which it is now between 09:00 and 10:00 (so 14:00 today is bookable)."""
    offset = (9 - dt.datetime.now(dt.UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


@pytest.fixture(scope="module")
def task_clinic(app_server):
    """A location of its own; Tess Ward's episode authorises 3 visits and 3 are done already."""
    tz = nine_am_zone()
    engine = make_engine(f"sqlite:///{app_server[1]}")
    with Session(engine, expire_on_commit=False) as s:
        location = Location(name="Task Clinic", timezone=tz)
        s.add(location)
        s.flush()
        provider = Provider(name="Tom Task, PT", location_id=location.id)
        patient = Patient(mrn="TSK1", first_name="Tess", last_name="Ward", birth_date=dt.date(1977, 7, 7))
        s.add_all([provider, Room(location_id=location.id, name="Task room"), patient])
        s.flush()
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        episode = CareCase(patient_id=patient.id, title="Shoulder rehab", authorized_visits=3)
        s.add(episode)
        s.flush()
        today = dt.datetime.now(ZoneInfo(tz)).date()
        for days in (9, 6, 3):
            starts = dt.datetime.combine(today - dt.timedelta(days=days), dt.time(10), tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
            visit = Appointment(patient_id=patient.id, provider_id=provider.id, location_id=location.id,
                                appointment_type_id=kind.id, starts_at=starts, ends_at=starts + dt.timedelta(minutes=30),
                                status="billed")
            s.add(visit)
            s.flush()
            s.add(CaseVisit(case_id=episode.id, appointment_id=visit.id))
        for username in ("task_desk", "task_desk2"):
            auth.create_user(s, actor=None, username=username, full_name=username.replace("_", " ").title(),
                             password=PASSWORD, role="reception", location_id=location.id)
        s.commit()
        patient_id = patient.id
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()
    return {"patient_id": patient_id}


def badge_count(page) -> int:
    link = page.get_by_role("link", name=re.compile(r"^Tasks: \d+ open$"))
    expect(link).to_be_visible()
    return int(re.search(r"\d+", link.inner_text()).group())


def test_authorisation_task_live_from_booking_to_done(browser, app_server, task_clinic):
    base, _ = app_server
    desk = browser.new_context(viewport=WIDE).new_page()
    sign_in(desk, base, "task_desk", PASSWORD)
    expect(desk.get_by_role("heading", name="Calendar board")).to_be_visible()
    desk.get_by_label("Location").click()
    desk.get_by_role("option", name="Task Clinic").click()
    before = badge_count(desk)

    other = browser.new_context(viewport=WIDE).new_page()
    sign_in(other, base, "task_desk2", PASSWORD)
    other.goto(base + "/tasks")
    expect(other.get_by_role("heading", name="Tasks")).to_be_visible()
    expect(other.get_by_text("Ward, Tess")).to_have_count(0)

    # Book Tess's fourth visit in her episode of three: past the authorisation.
    desk.get_by_role("button", name="New appointment").click()
    desk.get_by_label("Find patient (name, MRN or phone)").fill("Ward")
    desk.get_by_role("button", name=re.compile(r"^Choose Ward, Tess")).click()
    desk.get_by_label("Episode of care").click()
    desk.get_by_role("option", name=re.compile(r"^Shoulder rehab")).click()
    desk.get_by_label("Start time").fill("14:00")
    desk.get_by_role("button", name="Book appointment").click()
    expect(desk.get_by_role("status")).to_contain_text("Booked Ward, Tess at 14:00")

    # The rule ran in the app on the booking's event: the badge on the board went up, live,
    # and the second desk's open inbox shows the task.
    expect(desk.get_by_role("link", name=f"Tasks: {before + 1} open")).to_be_visible(timeout=15_000)
    row = other.locator("tr", has_text="Ward, Tess")
    expect(row).to_contain_text("1 visit booked past the 3 authorised", timeout=15_000)

    # The inbox: the task opens the patient's profile in one click.
    desk.get_by_role("link", name=f"Tasks: {before + 1} open").click()
    expect(desk.get_by_role("heading", name="Tasks")).to_be_visible()
    desk.get_by_role("link", name=re.compile(r"^Open the patient's profile: Authorisation \(Shoulder rehab\)")).click()
    expect(desk).to_have_url(re.compile(rf"/patients/{task_clinic['patient_id']}$"))
    desk.goto(base + "/tasks")
    expect(desk.locator("tr", has_text="Ward, Tess")).to_be_visible()
    assert_accessible(desk, "the task inbox")
    screenshot(desk, "tasks-inbox")

    # Completing it with a note takes it off the other desk's inbox at once.
    desk.get_by_role("button", name=re.compile(r"^Work on it: Authorisation \(Shoulder rehab\)")).click()
    desk.get_by_label("What was done").fill("Asked the payer for 6 more visits")
    assert_accessible(desk, "the task inbox with a task being worked")
    desk.get_by_role("button", name="Complete").click()
    expect(desk.get_by_role("status").filter(has_text="Task done.")).to_be_visible()
    expect(other.locator("tr", has_text="Ward, Tess")).to_have_count(0, timeout=15_000)
    expect(other.get_by_role("link", name=f"Tasks: {before} open")).to_be_visible(timeout=15_000)


@pytest.fixture(scope="module")
def progress_clinic(app_server):
    """Paul Pace, PT saw Nora Nash for her evaluation 35 days ago (signed) and sees her tomorrow:
    her progress note is due (the rule, as the daily sweep runs it). Rita Rowe, PT is another clinician."""
    from clinic_app.models import Note, User
    from clinic_app.services.tasks import rules

    tz = nine_am_zone()
    engine = make_engine(f"sqlite:///{app_server[1]}")
    with Session(engine, expire_on_commit=False) as s:
        location = Location(name="Progress Clinic", timezone=tz)
        s.add(location)
        s.flush()
        pace, rowe = Provider(name="Paul Pace, PT", location_id=location.id), Provider(name="Rita Rowe, PT", location_id=location.id)
        patient = Patient(mrn="PRG1", first_name="Nora", last_name="Nash", birth_date=dt.date(1970, 3, 3))
        s.add_all([pace, rowe, patient])
        s.flush()
        evaluation = s.exec(select(AppointmentType).where(AppointmentType.name == "Initial evaluation")).one()
        treatment = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        today = dt.datetime.now(ZoneInfo(tz)).date()
        visits = []
        for days, kind, status in ((-35, evaluation, "billed"), (1, treatment, "booked")):
            starts = dt.datetime.combine(today + dt.timedelta(days=days), dt.time(10), tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
            visit = Appointment(patient_id=patient.id, provider_id=pace.id, location_id=location.id,
                                appointment_type_id=kind.id, starts_at=starts,
                                ends_at=starts + dt.timedelta(minutes=kind.duration_minutes), status=status)
            s.add(visit)
            s.flush()
            visits.append(visit)
        users = {}
        for username, provider in (("pace_pt", pace), ("rowe_pt", rowe)):
            auth.create_user(s, actor=None, username=username, full_name=provider.name.split(",")[0], password=PASSWORD,
                             role="clinician", provider_id=provider.id, location_id=location.id)
            users[username] = s.exec(select(User.id).where(User.username == username)).one()
        s.add(Note(appointment_id=visits[0].id, patient_id=patient.id, provider_id=pace.id, subjective="Evaluation",
                   created_at=visits[0].starts_at, signed_at=visits[0].ends_at, signed_by_user_id=users["pace_pt"]))
        s.commit()
        assert rules.evaluate(s, "progress_note", patient.id) is not None
        s.commit()
        next_visit = visits[1].id
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()
    return {"next_visit": next_visit}


def test_progress_note_task_opens_the_chart_at_the_note_for_its_clinician_only(browser, app_server, progress_clinic):
    base, _ = app_server
    pace = browser.new_context(viewport=WIDE).new_page()
    sign_in(pace, base, "pace_pt", PASSWORD)
    pace.goto(base + "/tasks")
    row = pace.locator("tr", has_text="Nash, Nora")
    expect(row).to_contain_text("Progress note due: 30 days since the evaluation or last progress note")
    row.get_by_role("link", name=re.compile(r"^Open the note in the chart: ")).click()
    expect(pace).to_have_url(re.compile(rf"/chart\?visit={progress_clinic['next_visit']}$"))
    visit = pace.locator("#chart-visit")
    expect(visit.get_by_role("heading", name=re.compile("Nash"))).to_be_visible(timeout=15_000)
    expect(visit).to_contain_text("Treatment")
    expect(visit.get_by_label("Subjective")).to_be_visible()
    assert_accessible(pace, "the chart opened at a task's visit")

    # Another clinician's link to that visit is refused in words, and opens nothing.
    rowe = browser.new_context(viewport=WIDE).new_page()
    sign_in(rowe, base, "rowe_pt", PASSWORD)
    rowe.goto(base + f"/chart?visit={progress_clinic['next_visit']}")
    expect(rowe.get_by_text("This visit belongs to another clinician.")).to_be_visible(timeout=15_000)
    expect(rowe.locator("#chart-visit").get_by_role("heading", name=re.compile("Nash"))).to_have_count(0)


def test_the_managers_dashboard_counts_open_tasks_per_kind_and_person_live(browser, app_server, task_clinic):
    base, db = app_server
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        location = s.exec(select(Location).where(Location.name == "Task Clinic")).one()
        auth.create_user(s, actor=None, username="task_boss", full_name="Task Boss", password=PASSWORD, role="manager",
                         location_id=location.id)
        s.commit()
    engine.dispose()
    boss = browser.new_context(viewport=WIDE).new_page()
    sign_in(boss, base, "task_boss", PASSWORD)
    boss.goto(base + "/kpi")
    expect(boss.get_by_role("heading", name="Tasks now")).to_be_visible()
    status = boss.locator("#kpi-tasks-status")
    expect(status).to_contain_text("open tasks", timeout=15_000)
    before = int(re.search(r"(\d+) open tasks", status.inner_text()).group(1))
    assert_accessible(boss, "the dashboard with its task tables")

    # A desk makes a task for its queue: the manager's tables change without a reload.
    desk = browser.new_context(viewport=WIDE).new_page()
    sign_in(desk, base, "task_desk", PASSWORD)
    desk.goto(base + "/tasks")
    desk.get_by_text("Make a task about a patient").click()
    desk.get_by_label("Patient MRN").fill("TSK1")
    desk.get_by_label("What needs doing").fill("Call Tess about her new card")
    desk.get_by_label("For", exact=True).select_option(label="Front desk queue")
    desk.get_by_role("button", name="Make the task").click()
    expect(desk.get_by_role("status").filter(has_text="Task created.")).to_be_visible()
    expect(status).to_contain_text(f"{before + 1} open tasks", timeout=15_000)
    kinds = boss.get_by_role("table").filter(has_text="Hand-made")
    expect(kinds).to_be_visible()
