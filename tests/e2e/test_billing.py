"""The biller's day in a real browser at 1366x768: an insured visit is billed to the patient
only through a dialog that names the coverage and takes a reason, and is reopened and
claimed; claims go out in a batch (one zip, downloaded twice alike, pyx12-valid 837P) that is
then marked sent; the payer's 835 is uploaded on the page (a broken copy refused first)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import AppointmentType, Claim, ClaimLine, Location, Patient, Payer, Provider
from clinic_app.services.charting import charting
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.interop.x12 import x12_validate
from clinic_app.services.platform import auth
from clinic_app.services.revenue import payers
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_app import sign_in
from tests.services.x12_835 import Line, Paid, remittance

pytestmark = pytest.mark.e2e


def seed_billing_clinic(db) -> None:
    """A location with two visits signed yesterday: one patient insured, one not."""
    engine = make_engine(f"sqlite:///{db}")
    tz = "America/Chicago"
    day = dt.date.today() - dt.timedelta(days=1)
    with Session(engine, expire_on_commit=False) as s:
        location = Location(name="Billing E2E", timezone=tz)
        s.add(location)
        s.flush()
        provider = Provider(name="Pat Render, PT", location_id=location.id, npi="1234567893")
        insured = Patient(mrn="B2E1", first_name="Ina", last_name="Sured", birth_date=dt.date(1970, 5, 1))
        uninsured = Patient(mrn="B2E2", first_name="Uma", last_name="Ninsured", birth_date=dt.date(1980, 2, 3))
        s.add_all([provider, insured, uninsured])
        s.commit()
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        users = {
            role: auth.actor_for(auth.create_user(
                s, actor=None, username=name, full_name=name, password=PASSWORD, role=role,
                provider_id=provider.id if role == "clinician" else None, location_id=location.id,
            ))
            for name, role in (("b2e_desk", "reception"), ("b2e_clin", "clinician"), ("b2e_bill", "biller"), ("b2e_admin", "admin"))
        }
        payers.set_billing_profile(
            s, actor=users["admin"], location_id=location.id, organisation="Billing E2E PT", npi="1245319599",
            tax_id="123456789", address="1 Main St", city="Chicago", state="IL", zip_code="606011234",
        )
        payer = payers.create_payer(s, actor=users["biller"], name="E2E Mutual", payer_id="E2EM1", default_modifiers="GP")
        payers.add_coverage(s, actor=users["reception"], patient_id=insured.id, payer_id=payer.id, member_id="W123456",
                            effective_from=day - dt.timedelta(days=365))
        for hour, patient in ((9, insured), (10, uninsured)):
            starts = dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
            appt = scheduling.book_appointment(s, actor=users["reception"], patient_id=patient.id, provider_id=provider.id,
                                               appointment_type_id=kind.id, starts_at=starts, now=starts - dt.timedelta(days=2))
            scheduling.transition(s, actor=users["reception"], appointment_id=appt.id, to_status="arrived", now=starts)
            scheduling.transition(s, actor=users["clinician"], appointment_id=appt.id, to_status="in_session", now=starts)
            note = charting.open_note(s, actor=users["clinician"], appointment_id=appt.id)
            charting.save_draft(s, actor=users["clinician"], note_id=note.id, field="subjective", text="Neck pain")
            charting.add_diagnosis(s, actor=users["clinician"], note_id=note.id, code="M54.2")
            charting.add_procedure(s, actor=users["clinician"], note_id=note.id, code="97110", units=2)
            charting.sign_note(s, actor=users["clinician"], note_id=note.id, now=starts + dt.timedelta(minutes=45))
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()


@pytest.fixture(scope="module")
def billing_server(app_server):
    """The app with the billing clinic seeded once for this module's tests."""
    seed_billing_clinic(app_server[1])
    return app_server


def _e2e_claim():
    """The one claim to this module's payer (the demo clinic has claims of its own)."""
    return select(Claim).join(Payer, Payer.id == Claim.payer_id).where(Payer.name == "E2E Mutual")


def _claim_835(db) -> tuple[str, str]:
    """The payer's 835 for the one claim sent (paid $60.00: $10.00 contractual, $20.00 deductible), and a copy cut short."""
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        claim = s.exec(_e2e_claim()).one()
        line = s.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.id)).one()
        text = remittance([Paid(claim.number, "1", 9000, 6000, 2000, [
            Line("97110", 9000, 6000, 2, ("GP",), str(line.id), [("CO", "45", 1000), ("PR", "1", 2000)]),
        ])], payer="E2E MUTUAL")
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()
    return text, text[: len(text) // 2]


def _count(page, section: str) -> int:
    """The number a claim section's name gives ("Paid claims: 12")."""
    name = page.get_by_role("group", name=re.compile(f"^{section}: ")).first.get_attribute("aria-label") or ""
    return int(name.rsplit(" ", 1)[-1])


def _day_payments(page, day: dt.date) -> list[float]:
    """Insurance, patient and total payments of ``day`` as the range report shows them (the demo
    clinic's payers and patients pay too), then back to the default reports."""
    reports = page.get_by_role("region", name="Reports")
    reports.get_by_label("First day").fill(day.isoformat())
    reports.get_by_label("Last day").fill(day.isoformat())
    reports.get_by_label("Group payments by").select_option("day")
    reports.get_by_role("button", name="Show the range").click()
    expect(reports.get_by_role("heading", name=re.compile("^Payments by day, "))).to_be_visible()
    row = reports.get_by_role("row").filter(has_text=day.isoformat())
    cells = [float(c.replace(",", "")) for c in row.get_by_role("cell").all_inner_texts()[1:4]] if row.count() else [0.0] * 3
    reports.get_by_role("button", name="Back to the last 30 days and 12 months").click()
    return cells


def _claim_status(db) -> str:
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        status = s.exec(_e2e_claim()).one().status
    engine.dispose()
    return status


def test_a_biller_bills_the_right_party_batches_claims_and_reads_an_835(browser, billing_server):
    base, db = billing_server
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = context.new_page()
    sign_in(page, base, "b2e_bill", PASSWORD)
    expect(page.get_by_role("heading", name="Billing queue")).to_be_visible()
    expect(page.get_by_text("2 visits ready to bill")).to_be_visible()
    today = dt.datetime.now(ZoneInfo("America/Chicago")).date()
    paid_today = _day_payments(page, today)
    # A visit with no coverage is not offered as a claim; the insured one is, with its coverage named.
    expect(page.get_by_role("button", name=re.compile("^Create claim: Ninsured, Uma"))).to_have_count(0)
    insured_row = page.get_by_role("row").filter(has_text="Sured, Ina")
    expect(insured_row).to_contain_text("Insured: E2E Mutual, member W123456")
    screenshot(page, "billing-queue-1366")

    # Billing the insured visit to the patient asks why, in a dialog that names the coverage.
    insured_row.get_by_role("button", name=re.compile(r"^Bill patient \(self-pay\) \$90\.00: Sured, Ina")).click()
    dialog = page.get_by_role("alertdialog", name="Bill Sured, Ina (self-pay) $90.00?")
    expect(dialog).to_contain_text("E2E Mutual, member W123456 covers this visit")
    page.wait_for_function("() => document.getAnimations().every(a => a.playState === 'finished')")  # faded in
    screenshot(page, "billing-bill-patient-1366")
    assert_accessible(page, "the bill-the-patient dialog")
    dialog.get_by_role("button", name="Bill patient (self-pay) $90.00").click()
    expect(dialog.get_by_role("alert")).to_contain_text("create a claim, or say why the patient pays it themselves")
    expect(page.get_by_text("2 visits ready to bill")).to_be_visible()  # nothing was billed
    dialog.get_by_label("Why the patient pays (required)").fill("patient asked to pay herself")
    dialog.get_by_role("button", name="Bill patient (self-pay) $90.00").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_text("1 visits ready to bill")).to_be_visible()

    # She had not: the visit is reopened (charge reversed) and claimed after all.
    billed = page.get_by_role("region", name="Billed to patients")
    billed.get_by_role("button", name=re.compile("^Reopen for billing: Sured, Ina")).click()
    reopen = page.get_by_role("alertdialog", name=re.compile("^Reopen Sured, Ina's visit of"))
    expect(reopen).to_contain_text("reversed on the ledger")
    reopen.get_by_role("button", name="Reverse the charge and reopen").click()
    expect(reopen.get_by_role("alert")).to_contain_text("Say why the visit is reopened")
    reopen.get_by_label("Why the visit is reopened (required)").fill("billed to the patient by mistake")
    reopen.get_by_role("button", name="Reverse the charge and reopen").click()
    expect(billed.get_by_role("status")).to_contain_text("$90.00 charged to the patient reversed; the visit is back in the billing queue")
    expect(page.get_by_text("2 visits ready to bill")).to_be_visible()

    # A second biller's page shows the claim sections live, without reloading.
    colleague = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    sign_in(colleague, base, "b2e_bill", PASSWORD)
    expect(colleague.get_by_role("group", name="Draft claims: 0")).to_be_visible()

    page.get_by_role("button", name=re.compile("^Create claim: Sured, Ina")).click()
    expect(page.get_by_role("status").first).to_contain_text("created; it goes out with the next export")
    expect(page.get_by_text("1 visits ready to bill")).to_be_visible()
    expect(page.get_by_role("group", name="Draft claims: 1")).to_be_visible()
    expect(colleague.get_by_role("group", name="Draft claims: 1")).to_be_visible()
    expect(colleague.get_by_role("region", name="Recent claims")).to_contain_text("Sured, Ina")
    colleague.context.close()

    # A batch: written once, downloaded twice as the same single zip, then marked sent.
    claims_region = page.get_by_role("region", name="Claims")
    claims_region.get_by_role("button", name="Create batch of 1 claims").click()
    expect(claims_region.get_by_role("status")).to_contain_text("Batch 1 written: 1 claims, $90.00")
    expect(page.get_by_role("group", name="Draft claims: 1")).to_be_visible()  # not sent yet
    downloads = []
    for _ in range(2):
        with page.expect_download() as info:
            page.get_by_role("button", name="Download zip of batch 1").click()
        downloads.append((info.value.suggested_filename, Path(info.value.path()).read_bytes()))
    assert downloads[0] == downloads[1] and downloads[0][0].startswith("claims-batch-0001-") and downloads[0][0].endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(downloads[0][1])) as archive:
        [name] = archive.namelist()
        text = archive.read(name).decode("ascii")
    assert name.startswith("837P-E2EM1-")
    assert "NM1*IL*1*SURED*INA****MI*W123456~" in text and "SV1*HC:97110:GP*90*UN*2***1~" in text
    assert x12_validate.validate(text) == []
    page.get_by_role("button", name="Mark sent: batch 1").click()
    expect(claims_region.get_by_role("status")).to_contain_text("1 claims are now Submitted")
    expect(page.get_by_role("group", name="Submitted claims: 1")).to_be_visible()
    expect(page.get_by_role("group", name="Draft claims: 0")).to_be_visible()
    expect(page.get_by_role("button", name="Mark sent: batch 1")).to_have_count(0)
    with page.expect_download() as info:  # an earlier batch downloads again, once sent
        page.get_by_role("button", name="Download zip of batch 1").click()
    assert Path(info.value.path()).read_bytes() == downloads[0][1]
    # The demo clinic's own claims (issue 15: it posts remittances) count in the page's figures too.
    expect(page.get_by_text(re.compile(r"^Last 30 days: clean-claim rate .*\(\d+ awaiting an answer\)"))).to_be_visible()
    # The claim can be printed in CMS-1500 boxes from the recent-claims list.
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("^Download claim form \\(PDF\\) for claim ")).first.click()  # newest first
    assert info.value.suggested_filename.startswith("claim-") and Path(info.value.path()).read_bytes().startswith(b"%PDF-")

    # The payer's 835, uploaded on the page: a broken copy is refused with nothing changed, then it posts.
    good, broken = _claim_835(db)
    files = page.get_by_role("region", name="Files from payers")
    page.get_by_label("835, 999, 277CA or 271 files").set_input_files(
        files=[{"name": "e2e-mutual-broken.835", "mimeType": "text/plain", "buffer": broken.encode()}])
    files.get_by_role("button", name="Read the files").click()
    expect(files.get_by_role("alert")).to_contain_text("1 of 1 files refused; nothing of a refused file was changed")
    expect(files.get_by_role("list", name="What the files did")).to_contain_text(
        "Refused: e2e-mutual-broken.835 was refused:")
    expect(files.get_by_role("list", name="What the files did")).to_contain_text("othing was")
    assert _claim_status(db) == "submitted"
    expect(page.get_by_role("group", name="Submitted claims: 1")).to_be_visible()
    paid_before = _count(page, "Paid claims")
    page.get_by_label("835, 999, 277CA or 271 files").set_input_files(
        files=[{"name": "e2e-mutual.835", "mimeType": "text/plain", "buffer": good.encode()}])
    files.get_by_role("button", name="Read the files").click()
    expect(files.get_by_role("list", name="What the files did")).to_contain_text(
        "Read: Posted e2e-mutual.835: 1 claims, $60.00 paid, 0 denied")
    expect(page.get_by_role("group", name=f"Paid claims: {paid_before + 1}")).to_be_visible()
    assert _claim_status(db) == "paid"
    screenshot(page, "billing-files-1366")

    # The uninsured visit is billed to the patient (no reason needed), who pays by card at the desk.
    page.get_by_role("button", name=re.compile(r"^Bill patient \(self-pay\) \$90\.00: Ninsured, Uma")).click()
    dialog = page.get_by_role("alertdialog", name="Bill Ninsured, Uma (self-pay) $90.00?")
    expect(dialog).to_contain_text("no coverage on the date of service")
    dialog.get_by_role("button", name="Bill patient (self-pay) $90.00").click()
    expect(page.get_by_text("0 visits ready to bill")).to_be_visible()
    expect(dialog).to_be_hidden()  # closed (its fade-out done) before the page is checked
    assert_accessible(page, "the billing page")
    page.get_by_label("Patient MRN").fill("b2e2")
    page.get_by_role("button", name="Find account").click()
    expect(page.get_by_text("Patient owes $90.00; insurance still to pay $0.00.")).to_be_visible()
    month = dt.datetime.now(ZoneInfo("America/New_York")).strftime("%Y-%m")
    reports = page.get_by_role("region", name="Reports")
    month_row = reports.get_by_role("row").filter(has_text=month)
    # What patients paid this month before (the demo clinic's patients pay their shares too).
    before = float(month_row.get_by_role("cell").nth(2).inner_text().replace(",", "")) if month_row.count() else 0.0
    page.get_by_label("Amount paid ($)").fill("50")
    page.get_by_label("Paid by").select_option("card")
    reference = page.get_by_label("Cheque number or card terminal reference (never the card number)")
    reference.fill("4111 1111 1111 1111")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("alert").filter(has_text="looks like a card number")).to_be_visible()
    expect(page.get_by_label("Amount paid ($)")).to_have_value("50")  # nothing typed is lost
    reference.fill("TERM-22 AUTH 5521")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status").filter(has_text="Payment of $50 by card recorded")).to_be_visible()
    expect(page.get_by_text("Patient owes $40.00; insurance still to pay $0.00.")).to_be_visible()
    # The reports show the payment in this month's row (pushed with the claim sections), and download.
    expect(month_row.get_by_role("cell").nth(2)).to_have_text(f"{before + 50:,.2f}")
    with page.expect_download() as info:
        reports.get_by_role("button", name="Download CSV of payments by month").click()
    text = Path(info.value.path()).read_text()
    assert f"{month}," in text and f"{before + 50:.2f}" in text
    # A range of the biller's choosing, with its CSV; a range that ends before it starts is refused beside its field.
    reports.get_by_label("First day").fill(today.isoformat())
    reports.get_by_label("Last day").fill((today - dt.timedelta(days=1)).isoformat())
    reports.get_by_role("button", name="Show the range").click()
    expect(reports.get_by_role("alert").filter(has_text="is before the first")).to_be_visible()
    reports.get_by_label("First day").fill((today - dt.timedelta(days=6)).isoformat())
    reports.get_by_label("Last day").fill(today.isoformat())
    reports.get_by_label("Group payments by").select_option("day")
    reports.get_by_role("button", name="Show the range").click()
    expect(reports.get_by_role("heading", name=re.compile("^Payments by day, "))).to_be_visible()
    insurance, patients, total = paid_today[0] + 60, paid_today[1] + 50, paid_today[2] + 110
    expect(reports.get_by_role("row").filter(has_text=today.isoformat())).to_contain_text(f"{total:,.2f}")
    reports.get_by_role("heading", name="Report range").evaluate("e => e.scrollIntoView({block: 'start'})")
    screenshot(page, "billing-reports-1366")
    assert_accessible(page, "the billing reports over a range")
    with page.expect_download() as info:
        reports.get_by_role("button", name="Download CSV of payments in the range").click()
    assert f"{today.isoformat()},{insurance:.2f},{patients:.2f},{total:.2f}" in Path(info.value.path()).read_text()
    with page.expect_download() as info:
        reports.get_by_role("button", name="Download CSV of denials by reason in the range").click()
    assert Path(info.value.path()).read_text().startswith("reason,words,claims,share_of_denials_percent")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download statement (PDF)").click()
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF-")

    # The card payment was keyed to the wrong patient: reverse it, with a reason.
    page.get_by_role("button", name=re.compile(r"^Reverse entry \d+: Payment -50.00")).click()
    expect(page.get_by_role("region", name="Reverse an entry")).to_contain_text("Payment, owed by patient, -50.00")
    page.get_by_role("button", name="Post reversal").click()
    expect(page.get_by_role("alert").filter(has_text="Say why the entry is reversed")).to_be_visible()
    page.get_by_label("Reason for the reversal").fill("keyed to the wrong patient")
    page.get_by_role("button", name="Post reversal").click()
    expect(page.get_by_role("status").filter(has_text="reversed by a new entry (keyed to the wrong patient)")).to_be_visible()
    expect(page.get_by_text("Patient owes $90.00; insurance still to pay $0.00.")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Reverse entry \d+: Payment"))).to_have_count(0)
    context.close()


def test_a_biller_sets_up_a_payer_its_fees_and_a_patients_coverage(browser, billing_server):
    base, _ = billing_server
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, base, "b2e_bill", PASSWORD)
    page.get_by_role("link", name="Billing set-up").click()
    expect(page.get_by_role("heading", name="Billing set-up")).to_be_visible()
    payers_section = page.get_by_role("region", name="Payers")
    page.get_by_label("Payer name").fill("North Star Health")
    page.get_by_label("Payer id (from the clearinghouse's list)").fill("NS 1")
    page.get_by_role("button", name="Save payer").click()
    expect(payers_section.get_by_role("alert")).to_contain_text("payer id is the letters and digits")
    expect(page.get_by_label("Payer name")).to_have_value("North Star Health")  # nothing typed is lost
    page.get_by_label("Payer id (from the clearinghouse's list)").fill("NS001")
    page.get_by_role("button", name="Save payer").click()
    expect(payers_section.get_by_role("status")).to_contain_text("Payer North Star Health (NS001) saved.")
    expect(payers_section.get_by_role("cell", name="NS001")).to_be_visible()

    fees = page.get_by_role("region", name="Fee schedules")
    page.get_by_label("Schedule", exact=True).select_option(label="North Star Health (NS001)")
    page.get_by_label("Procedure code").fill("97110")
    page.get_by_label("Price per unit ($)").fill("41.25")
    page.get_by_role("button", name="Save fee").click()
    expect(fees.get_by_role("status")).to_contain_text("97110 now $41.25 per unit.")
    expect(fees.get_by_role("cell", name="41.25")).to_be_visible()

    coverage = page.get_by_role("region", name="Patient coverage")
    page.get_by_label("Patient MRN").fill("b2e2")
    page.get_by_role("button", name="Find patient").click()
    expect(coverage).to_contain_text("No coverage recorded")
    page.locator("#setup-cov-payer").select_option(label="North Star Health (NS001)")
    page.get_by_label("Member id").fill("NS-77120")
    page.get_by_label("Covered from").fill("2026-01-01")
    page.get_by_label("Covered to (empty: open)").fill("2025-12-31")
    page.get_by_role("button", name="Add coverage").click()
    expect(coverage.get_by_role("alert")).to_contain_text("ends before it starts")
    page.get_by_label("Covered to (empty: open)").fill("")
    page.get_by_role("button", name="Add coverage").click()
    expect(coverage.get_by_role("status")).to_contain_text("Coverage added for Ninsured, Uma (B2E2)")
    expect(coverage.get_by_role("cell", name="2026-01-01 to open end")).to_be_visible()
    page.context.close()
