"""The walking skeleton's spine in real browsers: book, check in, chart, sign, and every
open board and billing queue shows "Ready to bill" with no reload."""

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


def test_sign_on_a_tablet_turns_every_board_and_queue_ready_to_bill(browser, app_server, e2e_clinic):
    base, _ = app_server
    desk = browser.new_context(viewport={"width": 1400, "height": 900})
    tablet = browser.new_context(viewport={"width": 768, "height": 1024}, has_touch=True, is_mobile=True)
    billing = browser.new_context(viewport={"width": 1280, "height": 800})
    board, chart, queue = desk.new_page(), tablet.new_page(), billing.new_page()

    # Reception: the board shows the booked visit; book a second one into a free slot.
    sign_in(board, base, "e2e_desk", PASSWORD)
    expect(board.get_by_role("heading", name="Calendar board")).to_be_visible()
    quill = board.get_by_role("button", name=re.compile(r"^Quill, Zed, 11:00, "))
    expect(quill).to_have_accessible_name("Quill, Zed, 11:00, Booked")
    board.get_by_role("button", name="Book 13:00 with Erin Test, PT").click()
    board.get_by_label("Find patient (name, MRN or phone)").fill("Quinl")
    board.get_by_role("button", name=re.compile(r"^Choose Quinlan, Yara")).click()
    board.get_by_role("button", name="Book appointment").click()
    expect(board.get_by_role("status")).to_have_text("Booked Quinlan, Yara at 13:00.")
    expect(board.get_by_role("button", name="Quinlan, Yara, 13:00, Booked")).to_be_visible()
    # Booking the same slot again is refused with the clash named.
    board.get_by_role("button", name="New appointment").click()
    board.get_by_label("Find patient (name, MRN or phone)").fill("Quill")
    board.get_by_role("button", name=re.compile(r"^Choose Quill, Zed")).click()
    board.get_by_label("Start time").fill("13:15")
    board.get_by_role("button", name="Book appointment").click()
    expect(board.get_by_role("alert")).to_contain_text("Erin Test, PT already has an appointment 13:00-13:30")
    board.get_by_role("button", name="Close booking form").click()

    # Check the patient in.
    quill.click()
    board.get_by_role("button", name="Check in").click()
    expect(quill).to_have_accessible_name("Quill, Zed, 11:00, Arrived")

    # The biller's queue is open before the note is signed.
    sign_in(queue, base, "e2e_bill", PASSWORD)
    queue.get_by_label("Location").click()
    queue.get_by_role("option", name="E2E Clinic").click()
    expect(queue.get_by_text("0 visits ready to bill")).to_be_visible()

    # The clinician, on a tablet: open the visit (already Arrived, pushed), chart, sign.
    sign_in(chart, base, "e2e_clin", PASSWORD)
    visit = chart.get_by_role("button", name="Open note: 11:00 Quill, Zed")
    expect(visit).to_contain_text("Arrived")
    visit.tap()
    chart.get_by_role("button", name="Start session").tap()
    expect(chart.get_by_role("status").filter(has_text="Session started.")).to_be_visible()
    chart.get_by_label("Subjective").fill("Low back pain 5/10, worse sitting.")
    expect(chart.get_by_text("Draft saved")).to_be_visible()
    chart.reload()  # nothing typed is lost, and the visit that was open opens again
    expect(chart.get_by_label("Subjective")).to_have_value("Low back pain 5/10, worse sitting.")
    chart.get_by_label("Plan", exact=True).fill("Twice weekly for 4 weeks.")
    # Diagnoses are found by words or code; a category (M54) is never offered, only billable codes.
    chart.get_by_role("tab", name="Codes & billing").tap()
    chart.get_by_label("Find a diagnosis (words or code)").fill("M54")
    expect(chart.get_by_role("button", name="Add M54.2 Cervicalgia")).to_be_visible()
    expect(chart.get_by_role("button", name=re.compile(r"^Add M54 "))).to_have_count(0)
    chart.get_by_label("Find a diagnosis (words or code)").fill("low back pain")
    chart.get_by_role("button", name="Add M54.50 Low back pain, unspecified").tap()
    expect(chart.get_by_text("Low back pain, unspecified")).to_be_visible()
    chart.get_by_label("Procedure code").fill("97110")
    chart.get_by_label("Units", exact=True).fill("2")
    chart.get_by_role("button", name="Add procedure").tap()
    expect(chart.get_by_role("button", name="Remove 97110")).to_be_visible()
    sign = chart.get_by_role("button", name="Sign note")
    box = sign.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44  # a real touch target
    sign.tap()
    expect(chart.get_by_role("status").filter(has_text="Note signed.")).to_contain_text("$90.00")
    expect(chart.get_by_label("Subjective")).to_have_attribute("readonly", "")

    # Every open screen changed by push, with no reload.
    expect(quill).to_have_accessible_name("Quill, Zed, 11:00, Ready to bill")
    row = queue.get_by_role("row").filter(has_text="Quill, Zed")
    expect(row).to_contain_text("97110")
    expect(row).to_contain_text("Ready to bill")
    expect(queue.get_by_text("1 visits ready to bill, $90.00")).to_be_visible()

    # The biller bills it; the board follows.
    row.get_by_role("button", name=re.compile(r"^Bill patient \(self-pay\) \$90\.00: Quill, Zed")).click()
    queue.get_by_role("alertdialog").get_by_role("button", name="Bill patient (self-pay) $90.00").click()
    expect(quill).to_have_accessible_name("Quill, Zed, 11:00, Billed")
    for context in (desk, tablet, billing):
        context.close()
