"""Complete claims: the 837P's DMG03 from the administrative sex on file, SBR09 from each payer's
claim filing indicator, each file checked by pyx12."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlmodel import select

from clinic_app.models import AuditLog, Patient, Payer
from clinic_app.services.frontdesk import patients
from clinic_app.services.interop.x12 import x12_837, x12_validate
from clinic_app.services.platform.errors import InvalidInput
from clinic_app.services.revenue import payers
from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing

NOW = dt.datetime(2030, 3, 13, 15, 0, tzinfo=dt.UTC)


def _registered_sex(session, clinic, sex: str, patient: int = 0) -> Patient:
    """The desk edits the patient's administrative sex as the registration form sends it."""
    row = clinic.patients[patient]
    form = dataclasses.replace(patients.as_registration(session, patient_id=row.id), sex=sex, phone="(217) 555-0142")
    patients.update_patient(session, actor=clinic.reception, patient_id=row.id, form=form)
    return session.get(Patient, row.id)


def _837(session, claim) -> str:
    text = x12_837.render(session, claims=[claim], control_number=41, now=NOW)
    assert x12_validate.validate(text) == []
    return text


def _segments(text: str, tag: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip().startswith(tag + "*")]


def test_a_medicare_part_b_patient_claim_says_mb_and_the_registered_sex_and_passes_pyx12(session, clinic):
    payers.set_billing_profile(
        session, actor=clinic.admin, location_id=clinic.location.id, organisation="Test Clinic PT LLC",
        npi="1245319599", tax_id="123456789", address="1 Main St", city="Springfield", state="IL", zip_code="62701",
    )
    medicare = payers.create_payer(session, actor=clinic.biller, name="Medicare Part B IL", payer_id="00952",
                                   default_modifiers="GP", claim_filing_indicator="mb")
    assert medicare.claim_filing_indicator == "MB"
    patient = _registered_sex(session, clinic, "female")
    assert patient.sex == "female"
    cover(session, clinic, medicare)
    claim = claimed_visit(session, clinic)

    text = _837(session, claim)

    assert _segments(text, "SBR") == ["SBR*P*18*G77******MB"]
    assert _segments(text, "DMG") == [f"DMG*D8*{patient.birth_date:%Y%m%d}*F"]
    assert "NM1*PR*2*MEDICARE PART B IL*****PI*00952" in text


@pytest.mark.parametrize(("sex", "code"), [("male", "M"), ("female", "F"), ("other", "U"), ("unknown", "U")])
def test_dmg03_follows_the_patients_sex(session, clinic, sex, code):
    payer = set_up_billing(session, clinic)
    _registered_sex(session, clinic, sex)
    cover(session, clinic, payer)
    text = _837(session, claimed_visit(session, clinic))
    assert _segments(text, "DMG")[0].endswith(f"*{code}")
    assert _segments(text, "SBR") == ["SBR*P*18*G77******CI"]  # a payer set up without an indicator: commercial


def test_a_dependents_claim_gives_the_subscriber_and_the_patient_each_their_own_sex(session, clinic):
    payer = set_up_billing(session, clinic)
    payers.update_payer(session, actor=clinic.biller, payer_db_id=payer.id, name=payer.name, payer_id=payer.payer_id,
                        default_modifiers="GP", claim_filing_indicator="BL")
    patient = _registered_sex(session, clinic, "female")
    cover(session, clinic, payer, relationship="child", subscriber_first_name="Dan", subscriber_last_name="Diaz",
          subscriber_birth_date=dt.date(1955, 5, 5), subscriber_sex="male",
          address="9 Elm St", city="Springfield", state="IL", zip_code="62701")
    text = _837(session, claimed_visit(session, clinic))
    assert _segments(text, "DMG") == ["DMG*D8*19550505*M", f"DMG*D8*{patient.birth_date:%Y%m%d}*F"]  # 2010BA, 2010CA
    assert _segments(text, "SBR") == ["SBR*P**G77******BL"]


def test_the_secondarys_sbr09_comes_from_its_own_payer(session, clinic):
    payer = set_up_billing(session, clinic)
    payers.update_payer(session, actor=clinic.biller, payer_db_id=payer.id, name=payer.name, payer_id=payer.payer_id,
                        default_modifiers="GP", claim_filing_indicator="MB")
    medicaid = payers.create_payer(session, actor=clinic.biller, name="State Medicaid", payer_id="SKIL0",
                                   claim_filing_indicator="MC")
    _registered_sex(session, clinic, "male")
    cover(session, clinic, payer)
    cover(session, clinic, medicaid, priority=2)
    text = _837(session, claimed_visit(session, clinic))
    assert _segments(text, "SBR") == ["SBR*P*18*G77******MB", "SBR*S*18*G77******MC"]  # 2000B, then 2320


def test_a_claim_filing_indicator_outside_the_code_list_is_refused_and_nothing_changes(session, clinic):
    payer = set_up_billing(session, clinic)
    with pytest.raises(InvalidInput, match="claim filing indicator from the list"):
        payers.create_payer(session, actor=clinic.biller, name="Odd Plan", payer_id="ODD1", claim_filing_indicator="XX")
    with pytest.raises(InvalidInput, match="claim filing indicator from the list"):
        payers.update_payer(session, actor=clinic.biller, payer_db_id=payer.id, name="Renamed", payer_id=payer.payer_id,
                            claim_filing_indicator="Medicare")
    session.expire_all()
    assert session.exec(select(Payer.name)).all() == ["Acme Health"]
    assert session.get(Payer, payer.id).claim_filing_indicator == "CI"
    # Saving other fields keeps the indicator; a change of it is audited as the payer's update.
    payers.update_payer(session, actor=clinic.biller, payer_db_id=payer.id, name="Acme", payer_id="ACME1",
                        claim_filing_indicator="HM")
    payers.update_payer(session, actor=clinic.biller, payer_db_id=payer.id, name="Acme Health", payer_id="ACME1")
    assert session.get(Payer, payer.id).claim_filing_indicator == "HM"
    updates = session.exec(select(AuditLog).where(AuditLog.entity == "payer", AuditLog.action == "update")).all()
    assert len(updates) == 2


def test_a_subscriber_sex_outside_the_list_is_refused(session, clinic):
    payer = set_up_billing(session, clinic)
    with pytest.raises(InvalidInput, match="subscriber's sex from the list"):
        cover(session, clinic, payer, relationship="spouse", subscriber_first_name="Dan", subscriber_last_name="Diaz",
              subscriber_birth_date=dt.date(1955, 5, 5), subscriber_sex="X")
    assert payers.coverages(session, actor=clinic.reception, patient_id=clinic.patients[0].id) == []


def test_every_filing_indicator_offered_is_one_pyx12_accepts(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    claim = claimed_visit(session, clinic)
    for code in payers.FILING_INDICATORS:
        payers.update_payer(session, actor=clinic.biller, payer_db_id=payer.id, name=payer.name, payer_id=payer.payer_id,
                            claim_filing_indicator=code)
        assert _segments(_837(session, claim), "SBR") == [f"SBR*P*18*G77******{code}"]


# -- the coverage form reports every problem at once, dates in the format the field shows ---------

def test_a_coverage_form_names_every_wrong_field_at_once_and_nothing_is_added(session, clinic):
    payer = set_up_billing(session, clinic)
    form = payers.CoverageForm(
        payer_id=str(payer.id), member_id="x", relationship="spouse", subscriber_first_name="Dan",
        subscriber_birth_date="1955-02-30", subscriber_sex="X", state="Illinois", effective_from="13/01/2030",
        effective_to="", copay="2000",
    )
    with pytest.raises(payers.CoverageInvalid) as refused:
        payers.add_coverage(session, actor=clinic.reception, patient_id=clinic.patients[0].id, **payers.coverage_fields(form))
    assert list(refused.value.problems.items()) == [  # in the order the forms show the fields
        ("member_id", "The member id is the letters and digits on the insurance card (2 to 40)."),
        ("effective_from", "Enter the date the coverage starts as month/day/year, e.g. 03/01/2030."),
        ("copay", "A copay is at most $1,000.00; check the amount."),
        ("subscriber_last_name", "When the patient is not the subscriber, give the subscriber's name and birth date."),
        ("subscriber_birth_date", "Enter the subscriber's date of birth as month/day/year, e.g. 03/01/2030."),
        ("subscriber_sex", "Choose the subscriber's sex from the list (female, male, other or unknown)."),
        ("address", "Give the subscriber's street, city, two-letter state and five- or nine-digit ZIP code."),
    ]
    assert str(refused.value).startswith("The member id is the letters and digits on the insurance card (2 to 40). Enter the date")
    assert "YYYY" not in str(refused.value)
    assert payers.coverages(session, actor=clinic.reception, patient_id=clinic.patients[0].id) == []


def test_a_date_is_read_as_the_field_sends_it_or_as_a_person_types_it(session, clinic):
    assert payers.typed_date("2030-03-01", "the day", required=True) == dt.date(2030, 3, 1)
    assert payers.typed_date("03/01/2030", "the day", required=True) == dt.date(2030, 3, 1)
    assert payers.typed_date("", "the day", required=False) is None
    with pytest.raises(InvalidInput, match=r"^Enter the day\.$"):
        payers.typed_date("", "the day", required=True)


def test_registration_and_a_later_edit_report_the_coverage_rules_together(session, clinic):
    payer = set_up_billing(session, clinic)
    coverage = cover(session, clinic, payer)
    form = payers.CoverageForm(payer_id=str(payer.id), member_id="!", effective_from="2030-01-01", effective_to="2029-01-01")
    with pytest.raises(payers.CoverageInvalid) as refused:
        payers.check_coverage_form(session, form=form)
    assert set(refused.value.problems) == {"member_id", "effective_to"}
    fields = payers.coverage_fields(form)
    fields.pop("copay")
    with pytest.raises(payers.CoverageInvalid) as refused:
        payers.update_coverage(session, actor=clinic.reception, coverage_id=coverage.id, copay="abc", **fields)
    assert set(refused.value.problems) == {"member_id", "effective_to", "copay"}
    session.expire_all()
    assert payers.coverages(session, actor=clinic.reception, patient_id=clinic.patients[0].id)[0].member_id == coverage.member_id


def test_a_sex_sent_by_hl7_pid_8_is_the_fhir_gender_and_the_837ps_dmg03(session, clinic):
    from clinic_app.services.interop.fhir import mapping as fhir_map
    from clinic_app.services.interop.hl7 import hl7v2
    from tests.services.test_hl7v2 import msa, msg

    payer = set_up_billing(session, clinic)
    patient = clinic.patients[0]
    ack = hl7v2.ingest(session, username="reception", message=msg(
        "ADT^A08", f"PID|1||{patient.mrn}^^^C^MR||{patient.last_name}^{patient.first_name}||{patient.birth_date:%Y%m%d}|F"))
    assert msa(ack)[0] == "AA", ack
    session.expire_all()
    assert fhir_map.patient_resource(session.get(Patient, patient.id))["gender"] == "female"
    cover(session, clinic, payer)
    assert _segments(_837(session, claimed_visit(session, clinic)), "DMG") == [f"DMG*D8*{patient.birth_date:%Y%m%d}*F"]


def test_registration_names_each_wrong_insurance_field_for_the_form_to_show_beside_it(session, clinic):
    from clinic_app.state.registration import _with_coverage_fields

    payer = set_up_billing(session, clinic)
    form = patients.Registration(
        first_name="Ada", last_name="Wren", birth_date="1990-04-02", phone="(617) 555-0142",
        coverages=[payers.CoverageForm(payer_id=str(payer.id), member_id="x", effective_from="02/30/2030")],
    )
    with pytest.raises(patients.RegistrationInvalid) as refused:
        patients.register_patient(session, actor=clinic.reception, form=form, now=NOW)
    assert refused.value.problems == {"coverage_1": (
        "Primary insurance: The member id is the letters and digits on the insurance card (2 to 40). "
        "Enter the date the coverage starts as month/day/year, e.g. 03/01/2030.")}
    assert _with_coverage_fields(refused.value) == {
        **refused.value.problems,
        "cov1_member": "The member id is the letters and digits on the insurance card (2 to 40).",
        "cov1_from": "Enter the date the coverage starts as month/day/year, e.g. 03/01/2030.",
    }
    assert session.exec(select(Patient).where(Patient.last_name == "Wren")).first() is None
