"""The X12 5010 837P (005010X222A1) professional claim writer.

One interchange per file: ISA/GS/ST ... SE/GE/IEA with matching control numbers and
counts. Inside, one 2000A billing-provider loop per location, one 2000B subscriber
loop per claim (plus 2000C when the patient is not the subscriber), and when the
patient has secondary coverage the 2320/2330 other-subscriber loops. Each service
line carries REF*6R with its claim line id so that an 835 can be posted back to it.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.models import (
    Appointment,
    BillingProfile,
    Claim,
    ClaimDiagnosis,
    ClaimLine,
    Coverage,
    Patient,
    Payer,
    Provider,
)
from clinic_app.services.revenue import cob

SENDER_ID = "CLINICAPP"
RECEIVER_ID = "CLEARINGHOUSE"
RECEIVER_NAME = "CLEARINGHOUSE"
CONTACT = ("BILLING OFFICE", "8005550100")
# NUCC provider taxonomy codes by discipline (type 1, individual).
TAXONOMY = {
    "physiotherapy": "225100000X",
    "physical therapy": "225100000X",
    "occupational therapy": "225X00000X",
    "chiropractic": "111N00000X",
    "psychology": "103T00000X",
}
DEFAULT_TAXONOMY = "225100000X"
# PAT01 individual relationship codes (the patient is the subscriber's ...).
PAT_RELATIONSHIP = {"spouse": "01", "child": "19", "other": "G8"}
SBR_RELATIONSHIP = {"spouse": "01", "child": "19", "other": "G8"}
# DMG03 from the administrative sex on file (Patient.sex, Coverage.subscriber_sex): the guide
# allows F, M and U (unknown); "other" has no code of its own and is sent as U.
DMG_SEX = {"female": "F", "male": "M"}


def dmg_sex(sex: str | None) -> str:
    """The 837P's DMG03 for an administrative sex: F, M or U."""
    return DMG_SEX.get((sex or "").lower(), "U")


def filing_indicator(payer: Payer) -> str:
    """SBR09: the payer's claim filing indicator (CI, commercial, when none is set)."""
    return payer.claim_filing_indicator or "CI"

_UNSAFE = re.compile(r"[^A-Z0-9 .,&'/#-]")


def clean(text: str, size: int = 60) -> str:
    """Text an X12 element can carry: upper case, no delimiters, trimmed."""
    return _UNSAFE.sub("", (text or "").upper()).strip()[:size]


def amount(cents: int) -> str:
    """X12 decimal: 9000 -> '90', 4550 -> '45.5', 4555 -> '45.55'."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}" if part == 0 else f"{sign}{whole}.{part:02d}".rstrip("0")


def person_name(full: str) -> tuple[str, str]:
    """(last, first) from 'Ann Able, PT' or 'Able, Ann'."""
    if "," in full and len(full.split(",", 1)[1].strip()) > 3:
        last, first = full.split(",", 1)
        return clean(last, 60), clean(first, 35)
    words = full.split(",", 1)[0].split()
    return clean(words[-1] if words else "", 60), clean(" ".join(words[:-1]), 35)


def _d8(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


class _Segments:
    def __init__(self) -> None:
        self.rows: list[str] = []

    def add(self, *elements: str) -> None:
        parts = list(elements)
        while parts and parts[-1] == "":
            parts.pop()  # trailing empty elements are not sent
        self.rows.append("*".join(parts))


def _address(seg: _Segments, coverage: Coverage) -> None:
    if coverage.address:
        seg.add("N3", clean(coverage.address, 55))
        seg.add("N4", clean(coverage.city, 30), coverage.state, coverage.zip_code)


def _subscriber_loop(seg: _Segments, session: Session, claim: Claim, coverage: Coverage, patient: Patient, payer: Payer) -> None:
    if coverage.relationship == "self":
        seg.add("NM1", "IL", "1", clean(patient.last_name), clean(patient.first_name, 35), "", "", "", "MI", clean(coverage.member_id, 80))
        _address(seg, coverage)
        seg.add("DMG", "D8", _d8(patient.birth_date), dmg_sex(patient.sex))
    else:
        seg.add(
            "NM1", "IL", "1", clean(coverage.subscriber_last_name), clean(coverage.subscriber_first_name, 35), "", "", "",
            "MI", clean(coverage.member_id, 80),
        )
        _address(seg, coverage)
        seg.add("DMG", "D8", _d8(coverage.subscriber_birth_date), dmg_sex(coverage.subscriber_sex))
    seg.add("NM1", "PR", "2", clean(payer.name), "", "", "", "", "PI", clean(payer.payer_id, 80))


def _claim_loops(seg: _Segments, session: Session, claim: Claim, hl: int, parent_hl: int) -> int:
    coverage = session.get(Coverage, claim.coverage_id)
    patient = session.get(Patient, claim.patient_id)
    payer = session.get(Payer, claim.payer_id)
    appointment = session.get(Appointment, claim.appointment_id)
    provider = session.get(Provider, appointment.provider_id)
    lines = list(session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.line_no)))
    dx = list(session.exec(select(ClaimDiagnosis).where(ClaimDiagnosis.claim_id == claim.id).order_by(ClaimDiagnosis.position)))
    self_insured = coverage.relationship == "self"

    subscriber_hl = hl
    seg.add("HL", str(subscriber_hl), str(parent_hl), "22", "0" if self_insured else "1")
    # 2000B: the payer this claim goes to is primary, or secondary after the primary paid.
    seg.add("SBR", "S" if claim.primary_claim_id else "P", "18" if self_insured else "", clean(coverage.group_number, 50), "", "", "", "", "",
            filing_indicator(payer))
    _subscriber_loop(seg, session, claim, coverage, patient, payer)
    if not self_insured:
        hl += 1
        seg.add("HL", str(hl), str(subscriber_hl), "23", "0")
        seg.add("PAT", PAT_RELATIONSHIP[coverage.relationship])
        seg.add("NM1", "QC", "1", clean(patient.last_name), clean(patient.first_name, 35))
        _address(seg, coverage)
        seg.add("DMG", "D8", _d8(patient.birth_date), dmg_sex(patient.sex))

    frequency = claim.frequency
    seg.add("CLM", clean(claim.number, 38), amount(claim.total_cents), "", "", f"11:B:{frequency}", "Y", "A", "Y", "Y")
    if frequency in ("7", "8"):
        seg.add("REF", "F8", clean(claim.payer_claim_number or claim.number, 50))  # the payer's claim to replace
    seg.add("HI", *[f"{'ABK' if d.position == 1 else 'ABF'}:{d.code.replace('.', '')}" for d in dx])
    last, first = person_name(provider.name)
    seg.add("NM1", "82", "1", last, first, "", "", "", "XX", provider.npi or "")
    seg.add("PRV", "PE", "PXC", TAXONOMY.get((provider.discipline or "").lower(), DEFAULT_TAXONOMY))

    # A secondary claim reports the primary's adjudication; a primary claim only names
    # the secondary insurance.
    prior = cob.adjudication(session, claim_id=claim.primary_claim_id) if claim.primary_claim_id else None
    other_payer = None
    if claim.secondary_coverage_id:
        other = session.get(Coverage, claim.secondary_coverage_id)
        other_payer = session.get(Payer, other.payer_id)
        seg.add("SBR", "P" if claim.primary_claim_id else "S",
                "18" if other.relationship == "self" else SBR_RELATIONSHIP[other.relationship],
                clean(other.group_number, 50), "", "", "", "", "", filing_indicator(other_payer))
        if prior is not None:
            _cas(seg, prior.claim_adjustments)  # 2320 claim-level adjustments
            seg.add("AMT", "D", amount(prior.paid_cents))  # what the primary paid
            seg.add("AMT", "EAF", amount(prior.patient_cents))  # what it left to the patient
        seg.add("OI", "", "", "Y", "", "", "Y")
        if other.relationship == "self":
            seg.add("NM1", "IL", "1", clean(patient.last_name), clean(patient.first_name, 35), "", "", "", "MI", clean(other.member_id, 80))
        else:
            seg.add("NM1", "IL", "1", clean(other.subscriber_last_name), clean(other.subscriber_first_name, 35), "", "", "",
                    "MI", clean(other.member_id, 80))
        seg.add("NM1", "PR", "2", clean(other_payer.name), "", "", "", "", "PI", clean(other_payer.payer_id, 80))

    primary_lines = {}
    if prior is not None:
        primary_lines = {
            pl.line_no: pl.id
            for pl in session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.primary_claim_id))
        }
    for line in lines:
        seg.add("LX", str(line.line_no))
        procedure = ":".join(["HC", line.code, *[m for m in line.modifiers.split(",") if m]])
        seg.add("SV1", procedure, amount(line.amount_cents), "UN", str(line.units), "", "", ":".join(line.pointers.split(",")))
        seg.add("DTP", "472", "D8", _d8(claim.service_date))
        seg.add("REF", "6R", str(line.id))
        if prior is not None:
            # 2430: the primary's adjudication of this line.
            done = prior.lines.get(primary_lines.get(line.line_no), cob.LineAdjudication(paid_cents=0))
            seg.add("SVD", clean(other_payer.payer_id, 80), amount(done.paid_cents), procedure, "", str(line.units))
            _cas(seg, done.adjustments)
            seg.add("DTP", "573", "D8", _d8(prior.adjudicated_on))
    return hl + 1


def _cas(seg: _Segments, adjustments: list[tuple[str, str, int]]) -> None:
    """CAS segments, one per group with up to six reason/amount pairs each."""
    by_group: dict[str, list[tuple[str, int]]] = {}
    for group, reason, cents in adjustments:
        by_group.setdefault(group, []).append((reason, cents))
    for group, items in by_group.items():
        for start in range(0, len(items), 6):
            chunk = items[start:start + 6]
            seg.add("CAS", group, *[x for reason, cents in chunk for x in (reason, amount(cents), "")][:-1])


def render(session: Session, *, claims: list[Claim], control_number: int, now: dt.datetime) -> str:
    """The 837P interchange for ``claims`` (all to one receiver), as text."""
    isa_control = f"{control_number % 1_000_000_000:09d}"
    gs_control = str(control_number % 1_000_000_000)
    seg = _Segments()
    seg.add("ST", "837", "0001", "005010X222A1")
    seg.add("BHT", "0019", "00", isa_control, now.strftime("%Y%m%d"), now.strftime("%H%M"), "CH")
    seg.add("NM1", "41", "2", clean(SENDER_ID), "", "", "", "", "46", SENDER_ID)
    seg.add("PER", "IC", CONTACT[0], "TE", CONTACT[1])
    seg.add("NM1", "40", "2", RECEIVER_NAME, "", "", "", "", "46", RECEIVER_ID)

    by_location: dict[int, list[Claim]] = {}
    for claim in claims:
        location_id = session.get(Appointment, claim.appointment_id).location_id
        by_location.setdefault(location_id, []).append(claim)
    hl = 1
    for location_id, group in by_location.items():
        profile = session.exec(select(BillingProfile).where(BillingProfile.location_id == location_id)).one()
        billing_hl = hl
        seg.add("HL", str(billing_hl), "", "20", "1")
        seg.add("NM1", "85", "2", clean(profile.organisation), "", "", "", "", "XX", profile.npi)
        seg.add("N3", clean(profile.address, 55))
        seg.add("N4", clean(profile.city, 30), profile.state, profile.zip_code)
        seg.add("REF", "EI", profile.tax_id)
        hl += 1
        for claim in group:
            hl = _claim_loops(seg, session, claim, hl, billing_hl)
    seg.add("SE", str(len(seg.rows) + 1), "0001")

    isa = "*".join([
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", SENDER_ID.ljust(15), "ZZ", RECEIVER_ID.ljust(15),
        now.strftime("%y%m%d"), now.strftime("%H%M"), "^", "00501", isa_control, "0", settings.x12_usage(), ":",
    ])
    gs = "*".join(["GS", "HC", SENDER_ID, RECEIVER_ID, now.strftime("%Y%m%d"), now.strftime("%H%M"), gs_control, "X", "005010X222A1"])
    body = [isa, gs, *seg.rows, f"GE*1*{gs_control}", f"IEA*1*{isa_control}"]
    return "~\n".join(body) + "~\n"
