"""The manager's dashboard in a real browser: a range, a tile's figure, the rows behind it
and their CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import AppointmentType, Location, Patient, Provider
from clinic_app.services.charting import charting
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform import auth
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e
TZ = "America/Chicago"


def seed_dashboard_clinic(db) -> dt.date:
    """A location of its own with two visits two days ago (one completed, one no-show) and
    one booked for 11:00 today."""
    engine = make_engine(f"sqlite:///{db}")
    day = dt.datetime.now(ZoneInfo(TZ)).date() - dt.timedelta(days=2)
    with Session(engine, expire_on_commit=False) as s:
        location = Location(name="Dashboard E2E", timezone=TZ)
        s.add(location)
        s.flush()
        provider = Provider(name="Dee Ash, PT", location_id=location.id)
        patients = [Patient(mrn=f"K2E{i}", first_name="Kay", last_name=f"Pi{i}", birth_date=dt.date(1975, 1, 1 + i)) for i in range(3)]
        s.add_all([provider, *patients])
        s.commit()
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        users = {
            role: auth.actor_for(auth.create_user(
                s, actor=None, username=name, full_name=name, password=PASSWORD, role=role,
                provider_id=provider.id if role == "clinician" else None, location_id=location.id,
            ))
            for name, role in (("k2e_desk", "reception"), ("k2e_clin", "clinician"), ("k2e_boss", "manager"))
        }
        for hour, patient in ((9, patients[0]), (10, patients[1])):
            starts = dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo(TZ)).astimezone(dt.UTC)
            appt = scheduling.book_appointment(s, actor=users["reception"], patient_id=patient.id, provider_id=provider.id,
                                               appointment_type_id=kind.id, starts_at=starts, now=starts - dt.timedelta(days=2))
            if hour == 10:
                scheduling.transition(s, actor=users["reception"], appointment_id=appt.id, to_status="no_show",
                                      now=starts + dt.timedelta(minutes=20))
                continue
            scheduling.transition(s, actor=users["reception"], appointment_id=appt.id, to_status="arrived", now=starts)
            scheduling.transition(s, actor=users["clinician"], appointment_id=appt.id, to_status="in_session",
                                  now=starts + dt.timedelta(minutes=6))
            note = charting.open_note(s, actor=users["clinician"], appointment_id=appt.id)
            charting.save_draft(s, actor=users["clinician"], note_id=note.id, field="subjective", text="Hip pain")
            charting.add_diagnosis(s, actor=users["clinician"], note_id=note.id, code="M25.551")
            charting.add_procedure(s, actor=users["clinician"], note_id=note.id, code="97110", units=2)
            charting.sign_note(s, actor=users["clinician"], note_id=note.id, now=starts + dt.timedelta(minutes=45))
        starts = dt.datetime.combine(day + dt.timedelta(days=2), dt.time(11), tzinfo=ZoneInfo(TZ)).astimezone(dt.UTC)
        scheduling.book_appointment(s, actor=users["reception"], patient_id=patients[2].id, provider_id=provider.id,
                                    appointment_type_id=kind.id, starts_at=starts, now=starts - dt.timedelta(days=3))
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()
    return day


@pytest.fixture(scope="module")
def two_days_ago(app_server):
    return seed_dashboard_clinic(app_server[1])


def test_the_manager_picks_a_range_opens_a_tile_and_downloads_its_rows(browser, app_server, two_days_ago, tmp_path):
    base, _ = app_server
    day = two_days_ago
    page = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True).new_page()
    sign_in(page, base, "k2e_boss", PASSWORD)
    expect(page.get_by_role("heading", name="Clinic dashboard")).to_be_visible()
    expect(page.locator("#kpi-status")).to_contain_text("live")

    page.get_by_label("Location", exact=True).click()
    page.get_by_role("option", name="Dashboard E2E").click()
    page.get_by_label("From", exact=True).fill(day.isoformat())
    page.get_by_label("To", exact=True).fill(day.isoformat())
    expect(page.locator("#kpi-status")).to_contain_text(f"Showing {day.isoformat()} to {day.isoformat()}; Dashboard E2E, all providers")
    expect(page.get_by_label("Period", exact=True)).to_contain_text("Custom dates")

    visits = page.get_by_role("button", name=re.compile(r"^Visits completed 1 "))
    expect(visits).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^No-show rate 50\.0% "))).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Average wait \(arrival to session\) 6 min "))).to_be_visible()

    visits.focus()
    page.keyboard.press("Enter")  # a real button: the keyboard opens it too
    expect(page.get_by_role("heading", name="Rows behind: Visits completed")).to_be_visible()
    expect(page.locator("#kpi-drill-table tbody tr")).to_have_count(1)
    expect(page.get_by_text("1 row.", exact=True)).to_be_visible()
    expect(page.locator("#kpi-drill-table")).to_contain_text("Dee Ash, PT")
    expect(page.locator("#kpi-drill-table")).not_to_contain_text("Kay")  # visits, not patients' names

    with page.expect_download() as info:
        page.get_by_role("button", name="Download these rows as CSV").click()
    path = Path(tmp_path / "visits.csv")
    info.value.save_as(path)
    assert info.value.suggested_filename == f"kpi-visits-{day.isoformat()}-to-{day.isoformat()}.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [(r["date"], r["time"], r["provider"], r["status"]) for r in rows] == [(day.isoformat(), "09:00", "Dee Ash, PT", "Ready to bill")]

    with page.expect_download() as info:
        page.get_by_role("button", name="Download visits per period as CSV").click()
    assert info.value.suggested_filename.startswith("kpi-visits-by-period-")


def test_a_check_in_on_the_board_moves_todays_dashboard_without_a_reload(browser, app_server, two_days_ago):
    base, _ = app_server
    manager = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    sign_in(manager, base, "k2e_boss", PASSWORD)
    manager.get_by_label("Location", exact=True).click()
    manager.get_by_role("option", name="Dashboard E2E").click()
    manager.get_by_label("Period", exact=True).click()
    manager.get_by_role("option", name="Today").click()
    today = (two_days_ago + dt.timedelta(days=2)).isoformat()
    expect(manager.locator("#kpi-status")).to_contain_text(f"Showing {today} to {today}; Dashboard E2E")
    expect(manager.get_by_role("button", name=re.compile(r"^Arrivals 0 "))).to_be_visible()

    board = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    sign_in(board, base, "k2e_desk", PASSWORD)
    card = board.get_by_role("button", name="Pi2, Kay, 11:00, Booked")
    card.click()
    board.get_by_role("button", name="Check in").click()
    expect(board.get_by_role("button", name="Pi2, Kay, 11:00, Arrived")).to_be_visible()

    expect(manager.get_by_role("button", name=re.compile(r"^Arrivals 1 "))).to_be_visible()


def test_the_demo_clinics_money_tiles_charts_and_csvs_read_right(browser, app_server, tmp_path):
    """The demo clinic's remittances make the money tiles mean something; the selected tile is
    readable, the chart names every provider, rooms say where they are, CSVs are rounded as
    shown with their units, and the page passes axe-core (1366x768)."""
    base, _ = app_server
    page = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True).new_page()
    sign_in(page, base, "manager")  # the demo clinic's manager
    expect(page.locator("#kpi-status")).to_contain_text("all locations")
    expect(page.locator("#kpi-status")).to_contain_text(re.compile(r"Updated at \d\d:\d\d:\d\d UTC;"))
    today = dt.datetime.now(dt.UTC).date()
    page.get_by_label("From", exact=True).fill((today - dt.timedelta(days=14)).isoformat())
    expect(page.get_by_label("Period", exact=True)).to_contain_text("Custom dates")

    def tile(key: str):
        return page.locator(f"[data-tile='{key}'] .kpi-value")

    expect(tile("payments")).not_to_have_text("$0.00")
    expect(tile("collection_rate")).not_to_have_text(re.compile(r"^(0\.0%|-)$"))
    expect(tile("ar_days")).not_to_have_text(re.compile(r"^(90\.0|-)$"))
    expect(page.locator("[data-tile='denial_rate']")).to_contain_text(re.compile(r"[1-9]\d* of \d+ adjudicated"))
    expect(page.locator("[data-tile='no_show_rate']")).to_contain_text("booked, not cancelled in advance")

    page.locator("[data-tile='payments']").click()  # selected: light fill, dark text (axe checks the contrast)
    expect(page.locator("[data-tile='payments']")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("heading", name="Rows behind: Payments")).to_be_visible()
    assert_accessible(page, "the KPI dashboard with a tile selected")
    page.locator("[data-tile='payments']").scroll_into_view_if_needed()
    screenshot(page, "kpi-selected-tile-1366")

    # Every provider in the table is named on the chart's axis.
    table = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Provider"))
    names = [n.strip() for n in table.locator("tbody th").all_inner_texts()]
    assert len(names) >= 6
    ticks = page.locator("[role=figure][aria-label*=utilisation] .recharts-yAxis-tick-labels .recharts-cartesian-axis-tick-value")
    ticks.first.scroll_into_view_if_needed()
    expect(ticks).to_have_count(len(names))
    assert sorted("".join(t.split()) for t in ticks.all_text_contents()) == sorted("".join(n.split()) for n in names)
    page.mouse.move(5, 5)  # no tooltip over the chart
    screenshot(page, "kpi-utilisation-1366")

    rooms = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Room"))
    expect(rooms).to_contain_text(re.compile(r"Room 1 \(\w"))
    with page.expect_download() as info:
        page.get_by_role("button", name="Download utilisation by room as CSV").click()
    path = Path(tmp_path / "rooms.csv")
    info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert list(rows[0]) == ["room", "booked_minutes", "available_minutes", "utilisation_percent"]
    assert all(re.fullmatch(r"\d+", r["booked_minutes"]) and re.fullmatch(r"(\d+\.\d)?", r["utilisation_percent"]) for r in rows)
    assert any(r["room"].startswith("Room 1 (") for r in rows)

    page.get_by_label("Location", exact=True).click()  # one location: its own zone, named
    page.get_by_role("option").nth(1).click()
    expect(page.locator("#kpi-status")).not_to_contain_text("UTC")
    expect(page.locator("#kpi-status")).to_contain_text(re.compile(r"Updated at \d\d:\d\d:\d\d [A-Z+\-0-9]+;"))
