"""A clinician's private calendar feed in a real browser (issue 18): turned on from their
account page (the address shown once), fetched as a calendar app would (no patient named),
turned off (the address then answers 404); the page axe-clean."""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine, utcnow
from clinic_app.models import AppointmentType, Location, Patient, Provider, Room
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform import auth
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def clinician(app_server) -> str:
    """A clinician of this module's own with one visit tomorrow (a patient named Feedy Nameless)."""
    _, db = app_server
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        location = s.exec(select(Location)).first()
        provider = Provider(name="Fia Feed, PT", location_id=location.id)
        room = Room(location_id=location.id, name="Feed room")
        patient = Patient(mrn="ICS1", first_name="Feedy", last_name="Nameless", birth_date=dt.date(1975, 1, 2))
        s.add_all([provider, room, patient])
        s.commit()
        desk = auth.create_user(s, actor=None, username="ics_desk", full_name="Ics Desk", password=PASSWORD, role="reception")
        auth.create_user(s, actor=None, username="ics_clin", full_name="Fia Feed", password=PASSWORD, role="clinician",
                         provider_id=provider.id, location_id=location.id)
        kind = s.exec(select(AppointmentType)).first()
        starts = (utcnow() + dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        scheduling.book_appointment(s, actor=auth.actor_for(desk), patient_id=patient.id, provider_id=provider.id,
                                    appointment_type_id=kind.id, starts_at=starts, room_id=room.id)
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()
    return "ics_clin"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_a_clinician_turns_the_feed_on_subscribes_and_turns_it_off(browser, app_server, clinician):
    base, _ = app_server
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    sign_in(page, base, clinician, PASSWORD)
    page.goto(base + "/account/password")
    expect(page.get_by_role("heading", name="Calendar feed")).to_be_visible()
    expect(page.get_by_text("Status: off")).to_be_visible()
    page.get_by_role("button", name="Turn calendar feed on").click()
    expect(page.get_by_text("Status: on")).to_be_visible()
    address = page.get_by_label("Feed address")
    expect(address).to_be_visible()
    url = address.input_value()
    assert url.startswith("/ical/") and url.endswith(".ics")
    assert_accessible(page, "the account page with the calendar feed on")
    status, body = _get(base + url)
    assert status == 200 and "BEGIN:VCALENDAR" in body and "SUMMARY:Appointment: " in body and "Feed room" in body
    assert "Feedy" not in body and "Nameless" not in body
    page.get_by_role("button", name="Turn calendar feed off").click()
    expect(page.get_by_text("Status: off")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("its address no longer works")
    assert _get(base + url)[0] == 404
