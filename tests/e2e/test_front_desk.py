"""A receptionist's morning on the board, in Chromium: search, register, book, move,
check in, and the week view."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, seed_e2e_clinic
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def e2e_clinic(app_server):
    return seed_e2e_clinic(app_server[1])


def test_a_receptionists_morning(browser, app_server, e2e_clinic):
    base, _ = app_server
    desk = browser.new_context(viewport={"width": 1600, "height": 1000})
    board = desk.new_page()
    sign_in(board, base, "e2e_desk", PASSWORD)
    expect(board.get_by_role("heading", name="Calendar board")).to_be_visible()
    board.get_by_label("Location").click()
    board.get_by_role("option", name="E2E Clinic").click()
    quill = board.get_by_role("button", name=re.compile(r"^Quill, Zed, 11:00, "))
    expect(quill).to_have_accessible_name("Quill, Zed, 11:00, Booked")

    # Search: by date of birth, then by name; nobody new matches "Marsh" yet.
    board.get_by_role("button", name="New appointment").click()
    search = board.get_by_label("Find patient (name, MRN or phone)")
    search.fill("1970-05-01")
    expect(board.get_by_role("button", name=re.compile(r"^Choose Quill, Zed \(E2E1"))).to_be_visible()
    search.fill("Marsh")
    expect(board.get_by_role("button", name=re.compile(r"^Choose "))).to_have_count(0)
    board.get_by_role("button", name="Close booking form").click()

    # Register: an empty form names what is missing and saves nothing; then a real one.
    board.get_by_role("button", name="New patient").click()
    board.get_by_role("button", name="Register patient").click()
    expect(board.get_by_role("alert")).to_contain_text("First name is required.")
    board.get_by_label("First name").fill("Nora")
    board.get_by_label("Last name").fill("Marsh")
    board.get_by_label("Date of birth").fill("1991-04-02")
    board.get_by_label("Phone", exact=True).fill("(312) 555-0188")
    board.get_by_label("Consent to treatment").fill("2026-01-05")
    board.get_by_role("button", name="Register patient").click()
    expect(board.get_by_role("status")).to_contain_text("Registered Marsh, Nora")
    expect(board.get_by_text(re.compile(r"^Patient: Marsh, Nora"))).to_be_visible()

    # Book the new patient at 14:00 (the form opened with her chosen).
    board.get_by_label("Start time").fill("14:00")
    board.get_by_role("button", name="Book appointment").click()
    expect(board.get_by_role("status")).to_have_text("Booked Marsh, Nora at 14:00.")
    nora = board.get_by_role("button", name=re.compile(r"^Marsh, Nora, "))
    expect(nora).to_have_accessible_name("Marsh, Nora, 14:00, Booked")

    # A second desk has the same day open: it sees the move live, with no reload.
    other = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    sign_in(other, base, "e2e_desk", PASSWORD)
    other.get_by_label("Location").click()
    other.get_by_role("option", name="E2E Clinic").click()
    expect(other.get_by_role("button", name="Marsh, Nora, 14:00, Booked")).to_be_visible()

    # Move her to 15:30 for 45 minutes, from the keyboard-friendly Move panel.
    board.get_by_role("button", name="Move").click()
    board.get_by_label("New start time").fill("15:30")
    board.get_by_label("Length").click()
    board.get_by_role("option", name="45 min").click()
    board.get_by_role("button", name="Save move").click()
    expect(board.get_by_role("status")).to_contain_text("15:30-16:15")
    expect(nora).to_have_accessible_name("Marsh, Nora, 15:30, Booked")
    # The old slot is bookable again.
    expect(board.get_by_role("button", name="Book 14:00 with Erin Test, PT")).to_be_visible()
    expect(other.get_by_role("button", name="Marsh, Nora, 15:30, Booked")).to_be_visible()
    expect(other.get_by_role("button", name=re.compile(r"^Marsh, Nora, 14:00"))).to_have_count(0)

    # Check in the first patient of the morning: the other desk sees it too.
    quill.click()
    expect(board.get_by_text("Insurance: No insurance on file for this day (self-pay)")).to_be_visible()
    board.get_by_role("button", name="Check in").click()
    expect(quill).to_have_accessible_name("Quill, Zed, 11:00, Arrived")
    expect(board.get_by_text(re.compile(r"^Arrived \d\d:\d\d$"))).to_be_visible()
    other_quill = other.get_by_role("button", name=re.compile(r"^Quill, Zed, 11:00, "))
    expect(other_quill).to_have_accessible_name("Quill, Zed, 11:00, Arrived")
    # The other desk's own clicks, and a move pushed to it afterwards, keep the check-in.
    other.get_by_role("button", name="Marsh, Nora, 15:30, Booked").click()
    expect(other.get_by_role("button", name="Move")).to_be_visible()
    nora.click()
    board.get_by_role("button", name="Move").click()
    board.get_by_label("New start time").fill("14:30")
    board.get_by_role("button", name="Save move").click()
    expect(nora).to_have_accessible_name("Marsh, Nora, 14:30, Booked")
    expect(other.get_by_role("button", name="Marsh, Nora, 14:30, Booked")).to_be_visible()
    expect(other_quill).to_have_accessible_name("Quill, Zed, 11:00, Arrived")
    other.reload()
    expect(other_quill).to_have_accessible_name("Quill, Zed, 11:00, Arrived")
    other.context.close()

    # The week view shows the week with both visits.
    board.get_by_role("button", name="Week view").click()
    expect(board.get_by_text(re.compile(r"^Week of "))).to_be_visible()
    expect(nora).to_be_visible()
    expect(quill).to_have_accessible_name("Quill, Zed, 11:00, Arrived")
    desk.close()


def test_a_series_is_checked_visit_by_visit_and_a_freed_slot_goes_to_the_waitlist(browser, app_server, e2e_clinic):
    base, _ = app_server
    desk = browser.new_context(viewport={"width": 1600, "height": 1000})
    board = desk.new_page()
    sign_in(board, base, "e2e_desk", PASSWORD)
    board.get_by_label("Location").click()
    board.get_by_role("option", name="E2E Clinic").click()
    expect(board.get_by_role("button", name=re.compile(r"^Quill, Zed, 11:00, "))).to_be_visible()

    # Yara Quinlan every day for two weeks at 11:00: today's visit clashes with Zed Quill's.
    board.get_by_role("button", name="New appointment").click()
    board.get_by_label("Find patient (name, MRN or phone)").fill("Quinl")
    board.get_by_role("button", name=re.compile(r"^Choose Quinlan, Yara")).click()
    board.get_by_label("Start time").fill("11:00")
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"):
        board.get_by_role("checkbox", name=day).click()
    board.get_by_label("For how many weeks").fill("2")
    board.get_by_role("button", name="Check series").click()
    report = board.get_by_role("list", name="Series check")
    expect(report).to_contain_text("Erin Test, PT already has an appointment 11:00-11:30")
    expect(board.get_by_role("alert")).to_contain_text("cannot be booked; see the list")
    board.get_by_role("button", name="Book the free visits only").click()
    expect(board.get_by_role("status")).to_contain_text("Booked a series of")
    expect(board.get_by_role("status")).to_contain_text("; skipped ")

    # Zed Quill goes on the waitlist.
    board.get_by_role("button", name="New appointment").click()
    board.get_by_label("Find patient (name, MRN or phone)").fill("Quill")
    board.get_by_role("button", name=re.compile(r"^Choose Quill, Zed")).click()
    board.get_by_role("button", name="Add to waitlist instead").click()
    expect(board.get_by_role("status")).to_contain_text("is on the waitlist for the next two weeks")

    # Yara books 17:00 today, then cancels late: the freed slot is offered to Zed.
    board.get_by_role("button", name="Book 17:00 with Erin Test, PT").click()
    board.get_by_label("Find patient (name, MRN or phone)").fill("Quinl")
    board.get_by_role("button", name=re.compile(r"^Choose Quinlan, Yara")).click()
    board.get_by_role("button", name="Book appointment").click()
    expect(board.get_by_role("status")).to_have_text("Booked Quinlan, Yara at 17:00.")
    board.get_by_role("button", name="Cancel appointment…").click()
    board.get_by_role("alertdialog").get_by_label("Reason").fill("Car broke down")
    board.get_by_role("button", name="Cancel the appointment").click()
    expect(board.get_by_role("button", name="Quinlan, Yara, 17:00, Late cancellation")).to_be_visible()
    board.get_by_role("button", name="Offer this freed slot").click()
    board.get_by_role("button", name="Book Quill, Zed").click()
    expect(board.get_by_role("status")).to_have_text("Booked Quill, Zed at 17:00 from the waitlist.")
    expect(board.get_by_role("button", name="Quill, Zed, 17:00, Booked")).to_be_visible()

    # Working hours: mornings only; the afternoon is shaded and no longer bookable.
    expect(board.get_by_role("button", name="Book 13:00 with Erin Test, PT")).to_be_visible()
    board.get_by_role("button", name="Hours and time off").click()
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
        board.get_by_label(day, exact=True).fill("08:00-12:00")
    board.get_by_role("button", name="Save working hours").click()
    expect(board.get_by_text("Working hours saved.")).to_be_visible()
    expect(board.get_by_text("Not working").first).to_be_visible()
    expect(board.get_by_role("button", name="Book 13:00 with Erin Test, PT")).to_have_count(0)
    desk.close()
