"""A claim printed in the boxes of the CMS-1500 (02/12) paper form, as a PDF (fpdf2).

Not the red-ink form for OCR scanning: a plain-paper copy a biller reads, files or mails
with an appeal. Box numbers follow the form: 1 insurance type (from the payer's claim filing
indicator), 1a insured's id, 2 patient's name, 3 birth date and sex, 4 insured, 5 patient's
address, 6 relationship, 7 insured's address, 11 group, 21 diagnoses A-L, 24A-J service lines
(date, place of service, code, modifiers, diagnosis pointers as letters, charges, units,
rendering NPI), 25 EIN, 28 total, 31 rendering provider and date, 32 service facility (the
location), 33 billing provider and its NPI.
"""

from __future__ import annotations

import string
from zoneinfo import ZoneInfo

from fpdf import FPDF
from sqlmodel import Session, select

from clinic_app.db import for_write
from clinic_app.models import Appointment, BillingProfile, Coverage, Location, Provider
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.money import dollars
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import claims
from clinic_app.services.revenue.statements import latin1

PLACE_OF_SERVICE = "11"  # office, as on the 837P (CLM05-1)
LETTERS = string.ascii_uppercase[:12]  # box 21 A-L
RELATIONSHIP = {"self": "Self", "spouse": "Spouse", "child": "Child", "other": "Other"}
SEX = {"female": "F", "male": "M"}  # box 3 has M and F only; other or unknown is left blank
# Box 1 from the payer's claim filing indicator (SBR09); the rest are group health plans.
INSURANCE_TYPE = {"MA": "Medicare", "MB": "Medicare", "16": "Medicare", "MC": "Medicaid", "CH": "TRICARE",
                  "VA": "CHAMPVA"}


class _Form(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="Letter")
        self.set_title(title)
        self.set_creator("clinic_app")
        self.set_auto_page_break(auto=True, margin=12)
        self.add_page()
        self.set_font("Helvetica", "B", 13)
        self.cell(0, 8, "HEALTH INSURANCE CLAIM FORM (CMS-1500 layout)", new_x="LMARGIN", new_y="NEXT")

    def box(self, label: str, value: str, width: float, *, last: bool = False, lines: int = 1) -> None:
        """A labelled box: small label above, the value below (one line per "\n", up to
        ``lines``; every box of a row is given the row's ``lines``), framed."""
        x, y = self.get_x(), self.get_y()
        height = 6.5 + 4.5 * lines
        self.rect(x, y, width, height)
        self.set_font("Helvetica", "", 6)
        self.set_xy(x + 1, y + 0.5)
        self.cell(width - 2, 3, latin1(label))
        self.set_font("Helvetica", "", 9)
        for i, text in enumerate(value.split("\n")[:lines]):
            self.set_xy(x + 1, y + 4.5 + 4.5 * i)
            self.cell(width - 2, 5, latin1(text)[:60])
        if last:
            self.set_xy(self.l_margin, y + height)
        else:
            self.set_xy(x + width, y)

    def row(self, cells: list[tuple[str, float]], *, bold: bool = False) -> None:
        self.set_font("Helvetica", "B" if bold else "", 8)
        for text, width in cells:
            self.cell(width, 6, latin1(text), border=1)
        self.ln()


def _date(day) -> str:
    return day.strftime("%m/%d/%Y") if day else ""


def _address(street: str, city: str, state: str, zip_code: str) -> str:
    """Street on one line, city, state and ZIP on the next (what is known of them)."""
    town = ", ".join(p for p in (city.strip(), f"{state.strip()} {zip_code.strip()[:5]}".strip()) if p)
    return "\n".join(p for p in (street.strip(), town) if p)


def claim_form_pdf(session: Session, *, actor: Actor, claim_id: int) -> bytes:
    """The claim in CMS-1500 boxes; printing it is audited (it carries PHI)."""
    for_write(session)
    require(actor.role, "billing.view")
    view = claims.claim_view(session, claim_id=claim_id)  # NotFound for a missing claim
    claim, patient, payer, lines, dx = view["claim"], view["patient"], view["payer"], view["lines"], view["diagnoses"]
    coverage = session.get(Coverage, claim.coverage_id)
    appointment = session.get(Appointment, claim.appointment_id)
    provider = session.get(Provider, appointment.provider_id)
    profile = session.exec(select(BillingProfile).where(BillingProfile.location_id == appointment.location_id)).first()
    other = session.get(Coverage, claim.secondary_coverage_id) if claim.secondary_coverage_id else None
    location = session.get(Location, appointment.location_id)

    doc = _Form(f"Claim {claim.number}")
    doc.set_font("Helvetica", "", 9)
    doc.cell(0, 5, latin1(f"Carrier: {payer.name}  (payer id {payer.payer_id})    Claim {claim.number}    "
                           f"Frequency {claim.frequency}"), new_x="LMARGIN", new_y="NEXT")
    doc.ln(1)
    self_insured = coverage.relationship == "self"
    insured_name = (f"{patient.last_name}, {patient.first_name}" if self_insured
                    else f"{coverage.subscriber_last_name}, {coverage.subscriber_first_name}")
    insured_birth = patient.birth_date if self_insured else coverage.subscriber_birth_date
    patient_address = _address(patient.address_line, patient.city, patient.region, patient.postal_code)
    insured_address = (_address(coverage.address, coverage.city, coverage.state, coverage.zip_code)
                       or ("Same as the patient" if self_insured else ""))
    doc.box("1 Insurance type", INSURANCE_TYPE.get(payer.claim_filing_indicator, "Group health plan"), 60)
    doc.box("1a Insured's ID number", coverage.member_id, 60)
    doc.box("Patient account no. (26)", patient.mrn, 66, last=True)
    doc.box("2 Patient's name (last, first)", f"{patient.last_name}, {patient.first_name}", 60)
    sex = SEX.get(patient.sex, "")
    doc.box("3 Patient's birth date, sex", f"{_date(patient.birth_date)}   Sex: {sex}" if sex else _date(patient.birth_date), 60)
    doc.box("4 Insured's name (last, first)", insured_name, 66, last=True)
    doc.box("5 Patient's address", patient_address, 93, lines=2)
    doc.box("7 Insured's address", insured_address, 93, last=True, lines=2)
    doc.box("5 Patient's telephone", patient.phone, 60)
    doc.box("6 Patient relationship to insured", RELATIONSHIP.get(coverage.relationship, coverage.relationship), 60)
    doc.box("Claim filing indicator (837P SBR09)", payer.claim_filing_indicator, 66, last=True)
    doc.box("11 Insured's policy group", coverage.group_number, 60)
    doc.box("11a Insured's birth date", _date(insured_birth), 60)
    doc.box("11c Insurance plan", payer.name, 66, last=True)
    doc.box("11d Another health benefit plan?", f"Yes: member {other.member_id}" if other else "No", 120)
    doc.box("12/13 Signature", "Signature on file", 66, last=True)
    doc.ln(2)

    doc.set_font("Helvetica", "B", 8)
    doc.cell(0, 5, "21 Diagnosis or nature of illness or injury (ICD ind. 0)", new_x="LMARGIN", new_y="NEXT")
    for start in range(0, len(LETTERS), 4):
        for i, letter in enumerate(LETTERS[start:start + 4], start=start):
            doc.box(letter, dx[i] if i < len(dx) else "", 46.5, last=(i % 4 == 3))
    doc.box("22 Resubmission code / original ref. no.",
            f"{claim.frequency} {claim.payer_claim_number or ''}" if claim.frequency in ("7", "8") else "", 93)
    doc.box("23 Prior authorization number", "", 93, last=True)
    doc.ln(2)

    widths = [("24A Date of service", 28), ("B POS", 12), ("D CPT/HCPCS", 22), ("Modifiers", 28),
              ("E Dx pointer", 20), ("F Charges", 26), ("G Units", 14), ("J Rendering NPI", 36)]
    doc.row(widths, bold=True)
    for line in lines:
        pointers = "".join(LETTERS[int(p) - 1] for p in line.pointers.split(",") if p)
        doc.row([
            (_date(claim.service_date), 28), (PLACE_OF_SERVICE, 12), (line.code, 22),
            (" ".join(m for m in line.modifiers.split(",") if m), 28), (pointers, 20),
            (dollars(line.amount_cents), 26), (str(line.units), 14), (provider.npi or "", 36),
        ])
    doc.ln(2)
    doc.box("25 Federal tax I.D. number (EIN)", profile.tax_id if profile else "", 60)
    doc.box("27 Accept assignment?", "Yes", 40)
    doc.box("28 Total charge", dollars(claim.total_cents), 43)
    doc.box("29 Amount paid", dollars(0), 43, last=True)
    # 31: the rendering provider; the form's date is the day the claim was made, at the location.
    made_on = claim.created_at.astimezone(ZoneInfo(location.timezone)).date()
    doc.box("31 Signature of physician or supplier, date", f"{provider.name}\nSigned on file {_date(made_on)}", 60, lines=3)
    facility = [location.name, *(p.strip() for p in location.address.split(",", 1) if p.strip())]
    doc.box("32 Service facility location", "\n".join(facility), 63, lines=3)
    doc.box("33 Billing provider info & ph #",
            f"{profile.organisation}\n" + _address(profile.address, profile.city, profile.state, profile.zip_code)
            if profile else "", 63, last=True, lines=3)
    doc.box("24J / 31 Rendering provider NPI", provider.npi or "", 60)
    doc.box("32a Service facility NPI", profile.npi if profile else "", 63)
    doc.box("33a Billing provider NPI", profile.npi if profile else "", 63, last=True)

    audit.record(session, actor=actor, action="print", entity="claim", entity_id=claim.id, patient_id=patient.id)
    session.flush()
    return bytes(doc.output())
