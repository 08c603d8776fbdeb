"""The chart on a tablet (768x1024, touch): minutes and the 8-minute rule, two tablets on
one draft, an assistant's signature, the supervisor's co-signature and an addendum; and
(issue 13) what is typed is what is signed, text typed offline is sent when the connection
returns, every open note is reachable whatever its date, the signature's refusal shows by
the Sign bar, the note is in view on a day of 13 visits, and each section passes axe-core
with 44 px targets."""

from __future__ import annotations

import datetime as dt
import re
import struct
import zlib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from bench.chart_seed import seed_chart_day
from clinic_app.db import make_engine
from clinic_app.models import AppointmentType, ClinicianSupervision, Location, Note, NoteField, Patient, Provider
from clinic_app.services.charting import body_chart, charting, measures
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform import auth
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD, seed_e2e_clinic
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e
_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def _png(width: int, height: int) -> bytes:
    """A real (grey) PNG image of the given size."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
TABLET = {"viewport": {"width": 768, "height": 1024}, "has_touch": True, "is_mobile": True}


@pytest.fixture(scope="module")
def supervised_visit(app_server):
    """Sam Student, SPT (supervised by Erin Test, PT) sees Vera Vole at 12:00; she has arrived."""
    db = app_server[1]
    seed_e2e_clinic(db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        location = s.exec(select(Location).where(Location.name == "E2E Clinic")).one()
        supervisor = s.exec(select(Provider).where(Provider.name == "Erin Test, PT")).one()
        student = Provider(name="Sam Student, SPT", location_id=location.id)
        patient = Patient(mrn="E2E3", first_name="Vera", last_name="Vole", birth_date=dt.date(1990, 7, 7))
        s.add_all([student, patient])
        s.flush()
        s.add(ClinicianSupervision(provider_id=student.id, supervisor_provider_id=supervisor.id))
        s.commit()
        auth.create_user(s, actor=None, username="e2e_student", full_name="Sam Student", password=PASSWORD,
                         role="clinician", provider_id=student.id, location_id=location.id)
        desk = auth.actor_for(auth.authenticate(s, username="e2e_desk", password=PASSWORD))
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        tz = ZoneInfo(location.timezone)
        starts = dt.datetime.combine(dt.datetime.now(tz).date(), dt.time(12, 0), tzinfo=tz).astimezone(dt.UTC)
        appt = scheduling.book_appointment(
            s, actor=desk, patient_id=patient.id, provider_id=student.id, appointment_type_id=kind.id,
            starts_at=starts,
        )
        scheduling.transition(s, actor=desk, appointment_id=appt.id, to_status="arrived")
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()


def test_minutes_conflict_co_signature_and_addendum_on_a_tablet(browser, app_server, supervised_visit):
    base, _ = app_server
    tablet, second = browser.new_context(**TABLET), browser.new_context(**TABLET)
    chart, other = tablet.new_page(), second.new_page()

    # The student opens today's visit, starts the session and writes.
    sign_in(chart, base, "e2e_student", PASSWORD)
    chart.get_by_role("button", name="Open note: 12:00 Vole, Vera").tap()
    chart.get_by_role("button", name="Start session").tap()
    expect(chart.get_by_role("status").filter(has_text="Session started.")).to_be_visible()
    chart.get_by_label("Subjective").fill("Ankle sprain, pain 5/10 on walking.")
    expect(chart.get_by_text("Draft saved")).to_be_visible()

    # A second tablet has the same draft open; both write the Objective section.
    sign_in(other, base, "e2e_student", PASSWORD)
    other.get_by_role("button", name="Open note: 12:00 Vole, Vera").tap()
    expect(other.get_by_label("Subjective")).to_have_value("Ankle sprain, pain 5/10 on walking.")
    other.get_by_label("Objective", exact=True).fill("Swelling lateral malleolus.")
    expect(other.get_by_text("Draft saved")).to_be_visible()
    chart.get_by_label("Objective", exact=True).fill("Single-leg stance 10 s.")
    expect(chart.get_by_role("alert")).to_contain_text("changed on another device")
    expect(chart.get_by_text("Swelling lateral malleolus.")).to_be_visible()  # the other text, shown
    expect(chart.get_by_label("Objective", exact=True)).to_have_value("Single-leg stance 10 s.")  # this one, kept
    chart.get_by_label("Objective", exact=True).fill("Swelling lateral malleolus. Single-leg stance 10 s.")
    chart.get_by_role("button", name="Keep my text").tap()
    expect(chart.get_by_role("status").filter(has_text="Your objective text is saved.")).to_be_visible()
    other.reload()  # the visit that was open opens again
    expect(other.get_by_label("Objective", exact=True)).to_have_value("Swelling lateral malleolus. Single-leg stance 10 s.")

    # Codes: found by the code itself; 38 minutes of a timed code support 3 units (CMS 8-minute rule).
    chart.get_by_role("tab", name="Codes & billing").tap()
    chart.get_by_label("Find a diagnosis (words or code)").fill("S93.401A")
    chart.get_by_role("button", name=re.compile(r"^Add S93\.401A ")).tap()
    expect(chart.get_by_role("button", name="Remove S93.401A")).to_be_visible()
    chart.get_by_label("Procedure code").fill("97110")
    chart.get_by_label("Units", exact=True).fill("2")
    chart.get_by_label("Minutes (timed codes)").fill("38")
    chart.get_by_label("Modifiers").fill("gp x")
    chart.get_by_role("button", name="Add procedure").tap()
    expect(chart.get_by_role("alert")).to_contain_text("'X' is not a modifier")
    expect(chart.get_by_label("Minutes (timed codes)")).to_have_value("38")  # kept
    chart.get_by_label("Modifiers").fill("gp")
    chart.get_by_role("button", name="Add procedure").tap()
    expect(chart.get_by_text("modifiers GP")).to_be_visible()
    expect(chart.get_by_role("note", name="Units and minutes")).to_contain_text("it supports 3")
    chart.get_by_role("button", name="Sign note").tap()
    expect(chart.get_by_role("alert")).to_contain_text("Correct the units")
    fix = chart.get_by_role("button", name="Use the units the minutes support")
    assert fix.bounding_box()["height"] >= 44
    fix.tap()
    expect(chart.get_by_text("3 unit(s)")).to_be_visible()
    chart.get_by_role("button", name="Sign note").tap()
    expect(chart.get_by_role("status").filter(has_text="Note signed and locked")).to_contain_text("supervisor co-signs")
    expect(chart.get_by_text("Awaiting co-signature by Erin Test, PT")).to_be_visible()
    chart.get_by_role("button", name="Back to the list").tap()
    visit = chart.get_by_role("button", name="Open note: 12:00 Vole, Vera")
    expect(visit).to_contain_text("In session")  # not billable yet

    # The supervisor co-signs on their tablet; the student's list turns Ready to bill by push.
    supervisor = browser.new_context(**TABLET)
    sup = supervisor.new_page()
    sign_in(sup, base, "e2e_clin", PASSWORD)
    sup.get_by_role("button", name=re.compile(r"^My open notes")).tap()
    sup.get_by_role("button", name=re.compile(r"^Review and co-sign: Vole, Vera, by Sam Student, SPT")).tap()
    expect(sup.get_by_label("Subjective")).to_have_value("Ankle sprain, pain 5/10 on walking.")
    sup.get_by_role("button", name="Co-sign note").tap()
    expect(sup.get_by_role("status").filter(has_text="Note co-signed.")).to_contain_text("$135.00")
    expect(sup.get_by_text(re.compile(r"^Co-signed by e2e_clin on "))).to_be_visible()
    expect(visit).to_contain_text("Ready to bill")

    # A correction after signing is an addendum, shown under the unchanged original.
    sup.get_by_label("New addendum").fill("Reviewed with student: add balance work next visit.")
    sup.get_by_role("button", name="Add addendum").tap()
    expect(sup.get_by_text(re.compile(r"^Addendum by e2e_clin, "))).to_be_visible()
    expect(sup.get_by_text("Reviewed with student: add balance work next visit.")).to_be_visible()
    expect(sup.get_by_label("Subjective")).to_have_attribute("readonly", "")
    for context in (tablet, second, supervisor):
        context.close()


def test_an_admin_edits_a_template_and_defines_a_measure_on_a_tablet(browser, app_server, supervised_visit):
    base, db = app_server
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        location = s.exec(select(Location).where(Location.name == "E2E Clinic")).one()
        auth.create_user(s, actor=None, username="e2e_admin", full_name="Ada Admin", password=PASSWORD, role="admin",
                         location_id=location.id)
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()
    context = browser.new_context(**TABLET)
    page = context.new_page()
    sign_in(page, base, "e2e_admin", PASSWORD)
    page.get_by_role("link", name="Templates").click()
    expect(page.get_by_role("cell", name="Psychotherapy session (DAP)", exact=True)).to_be_visible()
    page.get_by_label("Visit kind").select_option("Treatment")
    expect(page.get_by_role("cell", name="Psychotherapy session (DAP)", exact=True)).to_be_visible()  # any visit kind
    expect(page.get_by_role("cell", name="Physiotherapy initial evaluation (SOAP)", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Edit Physiotherapy daily note (SOAP)").tap()
    expect(page.get_by_text("As shipped (version 0); saving makes version 1")).to_be_visible()

    # A new field with one option is refused with a message naming it; nothing typed is lost.
    page.get_by_role("button", name="Add a field").tap()
    page.get_by_label("Field 7 label").fill("Swelling")
    page.get_by_label("Field 7 section").select_option("objective")
    page.get_by_label("Field 7 kind").select_option("choice")
    page.get_by_label("Field 7 options, one per line").fill("None")
    page.get_by_role("button", name="Save template").tap()
    expect(page.get_by_role("alert")).to_contain_text("Field 7 (Swelling): a choice needs at least two options, one per line.")
    expect(page.get_by_label("Field 7 label")).to_have_value("Swelling")
    page.get_by_label("Field 7 options, one per line").fill("None\nMild\nMarked")
    move = page.get_by_role("button", name="Move Swelling up")
    assert move.bounding_box()["height"] >= 44
    move.tap()
    page.get_by_role("button", name="Save template").tap()
    expect(page.get_by_role("status")).to_contain_text("as version 1. Notes already written keep the version they used.")
    expect(page.get_by_text("Version 1; saving makes version 2")).to_be_visible()
    page.get_by_text("Saved versions (notes keep the one they were written with)").tap()
    expect(page.get_by_text(re.compile(r"^Version 1, \d{4}-\d\d-\d\d \d\d:\d\d UTC, by Ada Admin$"))).to_be_visible()
    expect(page.get_by_label("Field 6 label")).to_have_value("Swelling")  # moved above "Next visit"
    expect(page.get_by_label("Field 7 label")).to_have_value("Next visit")

    # A measure of the clinic's own: a refused MCID keeps the form; then defined and listed.
    page.get_by_role("link", name="Measures").click()
    page.get_by_label("Code").fill("BDI")
    page.get_by_label("Name").fill("Back disability index")
    page.get_by_label("Items, one per line").fill("Pain\nSitting\nStanding\nSleep")
    page.get_by_label("Scoring").select_option("percent")
    page.get_by_label("Better scores are").select_option("lower")
    page.get_by_label("Minimal clinically important difference (MCID)").fill("150")
    page.get_by_role("button", name="Define measure").tap()
    expect(page.get_by_role("alert")).to_contain_text("must be smaller than the whole score range (0 to 100)")
    expect(page.get_by_label("Items, one per line")).to_have_value("Pain\nSitting\nStanding\nSleep")
    page.get_by_label("Minimal clinically important difference (MCID)").fill("10")
    page.get_by_role("button", name="Define measure").tap()
    expect(page.get_by_role("status")).to_contain_text("BDI defined")
    expect(page.get_by_role("cell", name="percent of the highest possible total, 0 to 100, lower is better", exact=True)).to_be_visible()

    # Clinicians: a supervised student cannot supervise; an assistant's charges will carry CQ.
    page.get_by_role("link", name="Clinicians").click()
    expect(page.get_by_role("cell", name="Signs on their own; notes co-signed by Erin Test, PT", exact=True)).to_be_visible()
    page.get_by_label("Supervisor of Erin Test, PT").select_option(label="Sam Student, SPT")
    expect(page.get_by_role("alert")).to_contain_text("Sam Student, SPT is supervised themselves")
    expect(page.get_by_label("Supervisor of Erin Test, PT")).to_have_value("")
    page.get_by_label("Assistant kind of Sam Student, SPT").select_option("PTA")
    expect(page.get_by_role("status")).to_contain_text("Sam Student, SPT: Physical therapist assistant (CQ).")
    expect(page.get_by_role("cell", name="Physical therapist assistant (CQ); notes co-signed by Erin Test, PT",
                            exact=True)).to_be_visible()
    context.close()


def test_copy_forward_template_fields_and_measures_with_their_trend_on_a_tablet(browser, app_server, supervised_visit):
    base, db = app_server
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        # An earlier visit of Vera Vole's with Erin, signed, with NPRS 7 and PSFS 2.
        location = s.exec(select(Location).where(Location.name == "E2E Clinic")).one()
        erin = s.exec(select(Provider).where(Provider.name == "Erin Test, PT")).one()
        vera = s.exec(select(Patient).where(Patient.mrn == "E2E3")).one()
        desk = auth.actor_for(auth.authenticate(s, username="e2e_desk", password=PASSWORD))
        clin = auth.actor_for(auth.authenticate(s, username="e2e_clin", password=PASSWORD))
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        tz = ZoneInfo(location.timezone)
        today = dt.datetime.now(tz).date()
        for hour in (14, 15):
            starts = dt.datetime.combine(today, dt.time(hour, 0), tzinfo=tz).astimezone(dt.UTC)
            appt = scheduling.book_appointment(s, actor=desk, patient_id=vera.id, provider_id=erin.id,
                                               appointment_type_id=kind.id, starts_at=starts)
            scheduling.transition(s, actor=desk, appointment_id=appt.id, to_status="arrived")
            if hour == 14:
                scheduling.transition(s, actor=clin, appointment_id=appt.id, to_status="in_session")
                note = charting.open_note(s, actor=clin, appointment_id=appt.id)
                charting.save_draft(s, actor=clin, note_id=note.id, field="subjective", text="Baseline")
                charting.add_diagnosis(s, actor=clin, note_id=note.id, code="S93.401A")
                charting.add_procedure(s, actor=clin, note_id=note.id, code="97161", units=1)
                measures.record(s, actor=clin, note_id=note.id, code="NPRS", values=[7])
                body_chart.mark_region(s, actor=clin, note_id=note.id, region="r_knee_f", symptom="pain", intensity=8)
                measures.record(s, actor=clin, note_id=note.id, code="PSFS", values=[2, 2, 2], labels=["Stairs", "Run", "Squat"])
                charting.sign_note(s, actor=clin, note_id=note.id)
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()

    context = browser.new_context(**TABLET)
    chart = context.new_page()
    sign_in(chart, base, "e2e_clin", PASSWORD)
    chart.get_by_role("button", name="Open note: 15:00 Vole, Vera").tap()
    chart.get_by_role("button", name="Copy forward from the last signed note").tap()
    expect(chart.get_by_label("Subjective")).to_have_value("Baseline")
    chart.get_by_role("tab", name="Codes & billing").tap()
    expect(chart.get_by_role("button", name="Remove S93.401A")).to_be_visible()
    chart.get_by_role("tab", name="Note", exact=True).tap()

    # A template with structured fields: a scale, a number (checked), a checklist, a choice.
    chart.get_by_label("Note template").tap()
    chart.get_by_role("option", name="Physiotherapy daily note (SOAP)").tap()
    pain = chart.get_by_role("button", name="Subjective: Pain now (0-10) 3")
    assert pain.bounding_box()["height"] >= 44 and pain.bounding_box()["width"] >= 44
    pain.tap()
    expect(pain).to_have_attribute("aria-pressed", "true")
    rom = chart.get_by_label("Objective: Active range of motion (degrees)")
    rom.fill("200")
    expect(chart.get_by_role("alert")).to_contain_text("enter a number from 0 to 180 degrees")
    expect(rom).to_have_value("200")  # kept for correcting
    rom.fill("115")
    expect(chart.get_by_text("Draft saved")).to_be_visible()
    chart.get_by_text("Manual therapy", exact=True).tap()
    expect(chart.get_by_role("checkbox", name="Manual therapy")).to_be_checked()
    chart.get_by_label("Assessment: Tolerated treatment").tap()
    chart.get_by_role("option", name="Well").tap()
    chart.reload()  # the visit that was open opens again
    expect(chart.get_by_role("button", name="Subjective: Pain now (0-10) 3")).to_have_attribute("aria-pressed", "true")
    expect(chart.get_by_label("Objective: Active range of motion (degrees)")).to_have_value("115")
    expect(chart.get_by_role("checkbox", name="Manual therapy")).to_be_checked()
    expect(chart.get_by_label("Assessment: Tolerated treatment")).to_contain_text("Well")

    # Body chart: last visit's marks shown; tap the right knee on the front figure, mark it.
    chart.get_by_role("tab", name="Body chart").tap()
    expect(chart.get_by_role("list", name="Marked at the last visit")).to_contain_text("Right knee (front): pain 8/10")
    knee = chart.get_by_role("button", name="Right knee (front)")
    knee.tap()
    chart.get_by_role("button", name="Mark region").tap()
    expect(chart.get_by_role("alert")).to_contain_text("Intensity is a whole number from 0 to 10")
    chart.get_by_role("button", name="Intensity 5").tap()
    chart.get_by_role("button", name="Mark region").tap()
    expect(chart.get_by_role("list", name="Marked regions")).to_contain_text("Right knee (front): pain 5/10")
    expect(knee).to_have_css("fill", "rgb(251, 146, 60)")  # orange: 4-6 of 10
    # Every region is a 44 px touch target, and a tap at its centre lands on it (none hides another).
    regions = chart.locator("svg[aria-label^='Body chart'] [role=button]")
    assert regions.count() == 40
    for region in regions.all():
        region.evaluate("e => e.scrollIntoView({block: 'center'})")  # clear of the sticky section and Sign bars
        box = region.bounding_box()
        name = region.get_attribute("aria-label")
        assert min(box["width"], box["height"]) >= 44, (name, box)
        hit = chart.evaluate("([x, y]) => document.elementFromPoint(x, y)?.getAttribute('aria-label')",
                             [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
        assert hit == name, (name, hit)
    # The template's new field (added by the admin, version 1) is on this new note.
    chart.get_by_role("tab", name="Note", exact=True).tap()
    chart.get_by_label("Objective: Swelling").tap()
    chart.get_by_role("option", name="Mild").tap()
    expect(chart.get_by_text("Draft saved")).to_be_visible()

    # A short-term goal: a past target date is refused and the text kept; then set, then met.
    chart.get_by_role("tab", name="Plan & HEP").tap()
    chart.get_by_label("Goal", exact=True).fill("Walk 500 m without pain")
    chart.get_by_label("Target date").fill("2020-01-01")
    chart.get_by_role("button", name="Add goal").tap()
    expect(chart.get_by_role("alert")).to_contain_text("is in the past")
    expect(chart.get_by_label("Goal", exact=True)).to_have_value("Walk 500 m without pain")
    target = (dt.datetime.now(ZoneInfo(location.timezone)).date() + dt.timedelta(days=30)).isoformat()
    chart.get_by_label("Target date").fill(target)
    chart.get_by_role("button", name="Add goal").tap()
    expect(chart.get_by_text(f"Short-term: Walk 500 m without pain, by {target}")).to_be_visible()
    chart.get_by_label("Status of goal: Walk 500 m without pain").tap()
    chart.get_by_role("option", name="met", exact=True).tap()
    expect(chart.get_by_role("status").filter(has_text="Goal marked met.")).to_be_visible()

    # Frequency and duration of care: a bad number is refused with its range and kept; then saved.
    chart.get_by_label("Visits per week").fill("9")
    chart.get_by_label("For how many weeks").fill("6")
    chart.get_by_role("button", name="Save plan of care").tap()
    expect(chart.get_by_role("alert")).to_contain_text("from 1 to 7")
    expect(chart.get_by_label("For how many weeks")).to_have_value("6")
    chart.get_by_label("Visits per week").fill("2")
    chart.get_by_role("button", name="Save plan of care").tap()
    expect(chart.get_by_text("Plan of care: 2 visits a week for 6 weeks", exact=False)).to_be_visible()

    # Home exercise programme, printed as a PDF for the patient.
    chart.get_by_label("Exercise", exact=True).fill("Heel raises")
    chart.get_by_label("Sets, reps, how often").fill("3 x 10, twice a day")
    chart.get_by_role("button", name="Add exercise").tap()
    expect(chart.get_by_role("button", name="Stop Heel raises")).to_be_visible()
    with chart.expect_download() as download:
        chart.get_by_role("button", name="Print home exercise programme (PDF)").tap()
    assert download.value.suggested_filename == "home-exercise-programme.pdf"
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")

    # Attachments: a real PNG is kept with its checksum; a file that only claims to be one is refused.
    chart.get_by_role("tab", name="Record").tap()
    upload = chart.locator("#attachment-upload input[type=file]")
    upload.set_input_files(files=[{"name": "scan.png", "mimeType": "image/png", "buffer": _png(40, 30)}])
    chart.get_by_role("button", name="Upload attachment").tap()
    expect(chart.get_by_role("button", name="View scan.png")).to_be_visible()
    upload.set_input_files(files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"not an image"}])
    chart.get_by_role("button", name="Upload attachment").tap()
    expect(chart.get_by_role("alert")).to_contain_text("fake.png is not a PNG or JPEG image or a PDF")
    # Viewed in the page: the image is drawn inline (decoded, 40 px wide), with a download beside it.
    chart.get_by_role("button", name="View scan.png").tap()
    expect(chart.get_by_role("heading", name="Viewing scan.png")).to_be_visible()
    image = chart.get_by_role("img", name="scan.png")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 40
    with chart.expect_download() as opened:
        chart.get_by_role("button", name="Download scan.png").tap()
    assert Path(opened.value.path()).read_bytes() == _png(40, 30)
    # A PDF is embedded in an <object> viewer, also with a download.
    upload.set_input_files(files=[{"name": "referral.pdf", "mimeType": "application/pdf", "buffer": _PDF}])
    chart.get_by_role("button", name="Upload attachment").tap()
    chart.get_by_role("button", name="View referral.pdf").tap()
    viewer = chart.locator("object#attachment-viewer")
    expect(viewer).to_have_attribute("type", "application/pdf")
    assert viewer.get_attribute("data").startswith("data:application/pdf;base64,")
    expect(chart.get_by_role("button", name="Download referral.pdf")).to_be_visible()
    chart.get_by_role("button", name="Close viewer").tap()
    expect(viewer).to_have_count(0)

    # Problem list from an offline ICD-10-CM search; an allergy, then a medication that matches it.
    chart.get_by_label("Search ICD-10-CM (words or code)").fill("low back pain")
    chart.get_by_role("button", name=re.compile(r"^Add M54\.50 .* to problems$")).tap()
    expect(chart.get_by_role("button", name="Resolve M54.50")).to_be_visible()
    chart.get_by_label("Allergy to").fill("Ibuprofen")
    chart.get_by_label("Reaction").fill("hives")
    chart.get_by_role("button", name="Add allergy").tap()
    expect(chart.get_by_text("Allergies: Ibuprofen (hives)").first).to_be_visible()
    chart.get_by_label("Medication", exact=True).fill("Ibuprofen")
    chart.get_by_label("Class").tap()
    chart.get_by_role("option", name="NSAID").tap()
    chart.get_by_role("button", name="Add medication").tap()
    expect(chart.get_by_role("alert")).to_contain_text("Allergy alert: the patient is allergic to Ibuprofen (hives).")
    expect(chart.get_by_role("button", name="Stop Ibuprofen")).to_have_count(0)  # nothing saved yet
    chart.get_by_role("button", name="Record anyway").tap()
    expect(chart.get_by_role("button", name="Stop Ibuprofen")).to_be_visible()

    chart.get_by_role("tab", name="Measures").tap()
    chart.get_by_label("Outcome measure to score").tap()
    chart.get_by_role("option", name="NPRS").tap()
    chart.get_by_label("Pain now (0 = no pain, 10 = worst imaginable) score (0-10)").fill("12")
    chart.get_by_role("button", name="Score NPRS").tap()
    expect(chart.get_by_role("alert")).to_contain_text("enter a whole number from 0 to 10")
    expect(chart.get_by_label("Pain now (0 = no pain, 10 = worst imaginable) score (0-10)")).to_have_value("12")  # kept
    chart.get_by_label("Pain now (0 = no pain, 10 = worst imaginable) score (0-10)").fill("4")
    chart.get_by_role("button", name="Score NPRS").tap()
    expect(chart.get_by_role("status").filter(has_text="NPRS scored: 4.")).to_be_visible()
    expect(chart.get_by_text("Numeric Pain Rating Scale (NPRS): 4")).to_be_visible()
    expect(chart.get_by_text("Improved by 3 points since the first score, above the MCID of 2: clinically important.").first).to_be_visible()
    # The trend as a line chart (the table below says the same in words), the MCID line explained.
    expect(chart.locator(".trend-chart .recharts-line-curve").first).to_be_visible()
    expect(chart.get_by_text("Dashed line: 5, the first score minus the MCID of 2 (lower is better).")).to_be_visible()

    # The clinic's own measure (defined by the admin) is scored automatically: 6 of 20 = 30 %.
    chart.get_by_label("Outcome measure to score").tap()
    chart.get_by_role("option", name="BDI").tap()
    for item, value in (("Pain", "2"), ("Sitting", "2"), ("Standing", "1"), ("Sleep", "1")):
        chart.get_by_label(f"{item} score (0-5)").fill(value)
    chart.get_by_role("button", name="Score BDI").tap()
    expect(chart.get_by_role("status").filter(has_text="BDI scored: 30.")).to_be_visible()

    chart.get_by_label("Outcome measure to score").tap()
    chart.get_by_role("option", name="PSFS").tap()
    for n, (activity, value) in enumerate([("Stairs", "3"), ("Run", "3"), ("Squat", "3")], start=1):
        chart.get_by_label(f"Activity {n}", exact=True).fill(activity)
        chart.get_by_label(f"Activity {n} score (0-10)").fill(value)
    chart.get_by_role("button", name="Add an activity").tap()
    chart.get_by_label("Activity 4", exact=True).fill("Kneel")
    chart.get_by_label("Activity 4 score (0-10)").fill("3")
    chart.get_by_role("button", name="Score PSFS").tap()
    expect(chart.get_by_role("status").filter(has_text="PSFS scored: 3.")).to_be_visible()
    expect(chart.get_by_text(
        "Improved by 1 point since the first score, below the MCID of 2: not clinically important yet."
    ).first).to_be_visible()
    context.close()


# -- issue 13: the chart a clinician trusts ---------------------------------------------------------
@pytest.fixture(scope="module")
def chart_day(app_server, supervised_visit):
    """Casey Chart, PT: 13 visits today, a 40-item record, an open note of three days ago."""
    engine = make_engine(f"sqlite:///{app_server[1]}")
    day = seed_chart_day(engine, location_name="E2E Clinic", username="e2e_chart", password=PASSWORD)
    engine.dispose()
    return day


def _note(db, appointment_id: int) -> tuple[Note, dict[str, str]]:
    """The visit's note as saved, and its template field values."""
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        note = s.exec(select(Note).where(Note.appointment_id == appointment_id)).one()
        fields = {f.key: f.value for f in s.exec(select(NoteField).where(NoteField.note_id == note.id))}
    engine.dispose()
    return note, fields


def _in_view(locator, height: int = 1024) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def _open(chart, day, i: int) -> None:
    """Open today's visit ``i`` from the day list (on a tablet the visit replaces the list)."""
    back = chart.get_by_role("button", name="Back to the list")
    if back.is_visible():
        back.tap()
    chart.get_by_role("button", name=f"Open note: {day.starts[i]} {day.names[i]}").tap()
    expect(chart.locator("#chart-visit")).to_have_attribute("data-note", re.compile(r"^[1-9]"))


def test_sign_right_after_typing_signs_what_the_screen_shows(browser, app_server, chart_day):
    """Problem 1: typed, then Sign tapped before the autosave's debounce ran out. The tap is
    dispatched without moving the focus (as on a tablet whose keyboard stays up), so the
    text box never loses focus and its debounced save has not left yet."""
    base, db = app_server
    context = browser.new_context(**TABLET)
    chart = context.new_page()
    sign_in(chart, base, "e2e_chart", PASSWORD)
    sections = [("Subjective", "subjective"), ("Objective", "objective"), ("Assessment", "assessment"), ("Plan", "plan")]
    for i, (label, field) in enumerate(sections):  # visits 0-3: each note empty until now
        _open(chart, chart_day, i)
        text = f"{label} typed and signed at once, visit {i}."
        chart.get_by_label(label, exact=True).fill(text)
        chart.get_by_role("button", name="Sign note").dispatch_event("click")
        expect(chart.get_by_role("status").filter(has_text="Note signed.")).to_be_visible()
        note, _ = _note(db, chart_day.visits[i])
        assert note.signed_at is not None and getattr(note, field) == text, (field, getattr(note, field))
        expect(chart.get_by_label(label, exact=True)).to_have_value(text)
    # A template's text field (visit 4, the physiotherapy daily note), typed and signed at once.
    _open(chart, chart_day, 4)
    chart.get_by_label("Plan: Next visit").fill("Progress to single-leg squats")
    chart.get_by_role("button", name="Sign note").dispatch_event("click")
    expect(chart.get_by_role("status").filter(has_text="Note signed.")).to_be_visible()
    assert _note(db, chart_day.visits[4])[1]["next"] == "Progress to single-leg squats"
    # The debounced autosave still lands after the signature: the same text, so no refusal.
    chart.wait_for_timeout(800)
    expect(chart.get_by_role("alert")).to_have_count(0)
    context.close()


def test_text_typed_while_the_connection_is_down_is_sent_when_it_returns(browser, app_server, chart_day):
    base, db = app_server
    context = browser.new_context(**TABLET)
    link = {"down": False, "open": []}

    def route(ws):
        """Every socket of this tablet passes here. While the link is "down", a new socket
        gets the server's handshake but is closed when it asks to join (a failed reconnect,
        as through a dead Wi-Fi); otherwise it is forwarded both ways."""
        server = ws.connect_to_server()
        if not link["down"]:
            link["open"].append((ws, server))
            return

        def from_page(message):
            if isinstance(message, str) and message.startswith("40"):  # socket.io's CONNECT
                ws.close()
                server.close()
            else:
                server.send(message)

        ws.on_message(from_page)

    context.route_web_socket(re.compile(r"/_event"), route)
    chart = context.new_page()
    sign_in(chart, base, "e2e_chart", PASSWORD)
    _open(chart, chart_day, 6)  # arrived: the note starts now
    chart.get_by_role("button", name="Start session").tap()
    chart.get_by_label("Subjective", exact=True).fill("Neck stiffness, better mornings.")
    expect(chart.get_by_text("Draft saved")).to_be_visible()

    link["down"] = True
    for page_side, server_side in link["open"]:
        page_side.close()
        server_side.close()
    chart.get_by_label("Assessment", exact=True).fill("Typed while the connection was down.")
    chart.wait_for_timeout(700)  # past the autosave's debounce: the save waits in the page
    expect(chart.get_by_role("alert").filter(has_text="Connection lost")).to_contain_text("not saved yet")
    expect(chart.get_by_text("Not saved: the connection is down")).to_be_visible()
    assert _note(db, chart_day.visits[6])[0].assessment == ""

    link["down"] = False  # the page reconnects on its own and sends what waited
    expect(chart.get_by_role("alert").filter(has_text="Connection lost")).to_have_count(0, timeout=15_000)
    expect(chart.get_by_label("Assessment", exact=True)).to_have_value("Typed while the connection was down.")
    deadline = dt.datetime.now() + dt.timedelta(seconds=10)
    while _note(db, chart_day.visits[6])[0].assessment != "Typed while the connection was down." and dt.datetime.now() < deadline:
        chart.wait_for_timeout(200)
    assert _note(db, chart_day.visits[6])[0].assessment == "Typed while the connection was down."
    context.close()


def test_an_earlier_days_open_note_is_found_signed_and_billable_on_an_open_board(browser, app_server, chart_day):
    base, _ = app_server
    earlier = (chart_day.day - dt.timedelta(days=3)).isoformat()
    desk = browser.new_context(viewport={"width": 1366, "height": 768})
    board = desk.new_page()
    sign_in(board, base, "e2e_desk", PASSWORD)
    board.get_by_label("Day", exact=True).fill(earlier)
    card = board.get_by_role("button", name=re.compile(rf"^{chart_day.earlier_name}, 10:00, "))
    expect(card).to_have_accessible_name(f"{chart_day.earlier_name}, 10:00, In session")

    context = browser.new_context(**TABLET)
    chart = context.new_page()
    sign_in(chart, base, "e2e_chart", PASSWORD)
    chart.get_by_role("button", name=re.compile(r"^My open notes \(\d+\)")).tap()
    rows = chart.get_by_role("button", name=re.compile(r"^Open note: "))
    first = f"Open note: {chart_day.earlier_name}, {earlier} 10:00, 3 days old"
    expect(rows.first).to_have_accessible_name(first)  # oldest first, with its age
    assert_accessible(chart, "My open notes")
    assert _small_targets(chart) == []
    screenshot(chart, "chart-open-notes")
    # The date filter keeps one day's; today's list by the date picker has none of that day.
    chart.get_by_label("Visit date").fill(chart_day.day.isoformat())
    expect(chart.get_by_role("button", name=first)).to_have_count(0)
    expect(rows.first).to_have_accessible_name(re.compile(r", today$"))
    chart.get_by_role("button", name="All dates").tap()
    chart.get_by_role("button", name=first).tap()
    expect(chart.get_by_text("This visit was 3 days old.")).to_be_visible()
    expect(chart.get_by_label("Subjective", exact=True)).to_have_value("Shoulder pain 6/10 reaching overhead.")
    chart.get_by_role("button", name="Sign note").tap()
    expect(chart.get_by_role("status").filter(has_text="Note signed.")).to_contain_text("sent to billing")
    expect(card).to_have_accessible_name(f"{chart_day.earlier_name}, 10:00, Ready to bill")  # pushed, no reload
    chart.get_by_role("button", name="Back to the list").tap()
    expect(chart.get_by_role("button", name=first)).to_have_count(0)  # the list follows
    # Any day's list from the date picker: the earlier day shows the visit, now ready to bill.
    chart.get_by_role("button", name="Day list").tap()
    chart.get_by_label("Day", exact=True).fill(earlier)
    expect(chart.get_by_role("button", name=f"Open note: 10:00 {chart_day.earlier_name}")).to_contain_text("Ready to bill")
    desk.close()
    context.close()


def test_a_refused_signature_says_why_beside_the_sign_bar_and_each_blocker_leads_to_its_fix(browser, app_server, chart_day):
    base, _ = app_server
    context = browser.new_context(**TABLET)
    chart = context.new_page()
    sign_in(chart, base, "e2e_chart", PASSWORD)
    _open(chart, chart_day, 5)  # 38 minutes of 97110 billed as 2 units
    sign = chart.get_by_role("button", name="Sign note")
    assert _in_view(sign)
    sign.tap()
    refusal = chart.get_by_role("alert").filter(has_text="Correct the units")
    expect(refusal).to_be_visible()
    assert _in_view(refusal)
    gap = refusal.bounding_box()["y"] - (sign.bounding_box()["y"] + sign.bounding_box()["height"])
    assert abs(gap) < 200, gap  # next to the button pressed, not 3,000 px above it
    blocker = chart.get_by_role("button", name=re.compile(r"^97110: 2 unit\(s\) entered.* \(Codes & billing\)$"))
    blocker.tap()
    expect(chart.get_by_role("tab", name="Codes & billing")).to_have_attribute("aria-selected", "true")
    expect(chart.get_by_role("button", name="Use the units the minutes support")).to_be_focused()
    context.close()


def test_the_note_is_in_view_when_a_visit_opens_on_a_day_of_13(browser, app_server, chart_day):
    base, _ = app_server
    context = browser.new_context(**TABLET)
    chart = context.new_page()
    sign_in(chart, base, "e2e_chart", PASSWORD)
    last = chart.get_by_role("button", name=f"Open note: {chart_day.starts[12]} {chart_day.names[12]}")
    expect(last).to_be_visible()
    assert _small_targets(chart) == []  # the day list's rows, date picker and buttons too
    last.scroll_into_view_if_needed()
    last.tap()
    subjective = chart.get_by_label("Subjective", exact=True)
    expect(subjective).to_be_visible()
    chart.wait_for_timeout(200)  # the scroll into view
    assert _in_view(subjective), subjective.bounding_box()
    assert _in_view(chart.get_by_role("button", name="Sign note"))  # the Sign bar is always in view
    assert chart.evaluate("document.documentElement.scrollWidth") <= 768  # nothing wider than the tablet
    context.close()


def _small_targets(page) -> list[str]:
    """Visible controls smaller than 44 x 44 px (a checkbox counts by its label, a text field by its box)."""
    return page.evaluate("""() => {
        const out = [];
        const controls = 'main button, main input, main textarea, main select, main a, main [role=button], '
            + 'main [role=tab], main [role=checkbox]';
        for (const e of document.querySelectorAll(controls)) {
            const r = e.getBoundingClientRect();
            if (!r.width || !r.height || getComputedStyle(e).visibility === 'hidden') continue;
            if (e.type === 'file' || e.closest('svg') || e.closest('[aria-hidden=true]')) continue;
            // A text field's target is its whole box (a tap on its edge focuses it), a checkbox's its label.
            const t = (e.closest('label') || e.closest('.rt-TextFieldRoot') || e).getBoundingClientRect();
            if (t.width < 44 || t.height < 44) out.push(`${e.tagName} ${e.getAttribute('aria-label') || e.id || e.textContent.slice(0, 30)} ${Math.round(t.width)}x${Math.round(t.height)}`);
        }
        return out;
    }""")


def test_each_section_on_a_tablet_is_accessible_touch_sized_and_pictured(browser, app_server, chart_day):
    """Diagnoses by words and from the problem list; then every section with a note open:
    axe-core, 44 px targets, a screenshot for docs/charting.md."""
    base, _ = app_server
    context = browser.new_context(**TABLET)
    chart = context.new_page()
    sign_in(chart, base, "e2e_chart", PASSWORD)
    _open(chart, chart_day, 5)
    chart.get_by_label("Plan", exact=True).fill("Core stability, 2 x week.")
    chart.get_by_role("tab", name="Codes & billing").tap()
    chart.get_by_label("Find a diagnosis (words or code)").fill("right knee pain")
    chart.get_by_role("button", name=re.compile(r"^Add M25\.561 Pain in right knee$")).tap()
    expect(chart.get_by_role("button", name="Remove M25.561")).to_be_visible()
    chart.get_by_role("button", name=re.compile(r"^Add M62\.81 .*\(from the problem list\)$")).tap()
    expect(chart.get_by_role("button", name="Remove M62.81")).to_be_visible()
    chart.get_by_role("tab", name="Measures").tap()
    chart.get_by_label("Outcome measure to score").tap()
    chart.get_by_role("option", name="NPRS").tap()
    chart.get_by_label("Pain now (0 = no pain, 10 = worst imaginable) score (0-10)").fill("5")
    chart.get_by_role("button", name="Score NPRS").tap()
    expect(chart.get_by_role("status").filter(has_text="NPRS scored: 5.")).to_be_visible()
    chart.get_by_role("tab", name="Body chart").tap()
    chart.get_by_role("button", name="Lower back").tap()
    chart.get_by_role("button", name="Intensity 6").tap()
    chart.get_by_role("button", name="Mark region").tap()
    expect(chart.get_by_role("list", name="Marked regions")).to_contain_text("Lower back: pain 6/10")
    for key, name in [("note", "Note"), ("codes", "Codes & billing"), ("measures", "Measures"), ("body", "Body chart"),
                      ("plan", "Plan & HEP"), ("record", "Record")]:
        chart.get_by_role("tab", name=name, exact=True).tap()
        expect(chart.locator(f"#panel-{key}")).to_be_visible()
        chart.evaluate("window.scrollTo(0, 0)")
        assert_accessible(chart, f"the chart's {name} section")
        assert _small_targets(chart) == [], name
        assert chart.evaluate("document.documentElement.scrollWidth") <= 768, name
        screenshot(chart, f"chart-{key}")
    # Landscape (1024 x 768): the list beside the visit, the open visit's row marked.
    chart.set_viewport_size({"width": 1024, "height": 768})
    _open(chart, chart_day, 5)
    assert_accessible(chart, "the chart in landscape, with the list beside the visit")
    screenshot(chart, "chart-landscape")
    context.close()
