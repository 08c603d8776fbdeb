"""HL7 v2 ingest: ADT^A04/A08 register and update, SIU^S12 books through the booking
rules; every message gets an ACK, AA when applied, AE with the reason (nothing saved)."""

from __future__ import annotations

import hl7
from sqlmodel import func, select

from clinic_app.models import Appointment, AuditLog, Patient
from clinic_app.services.interop.hl7 import hl7v2
from tests.services.helpers import now_at


def msg(kind: str, *segments: str, control: str = "MSG001") -> str:
    return "\r".join([f"MSH|^~\\&|LEGACY|FRONT|CLINIC|MAIN|20300312080000||{kind}|{control}|P|2.5", *segments])


def msa(ack: str) -> tuple[str, str, str]:
    parsed = hl7.parse(ack)
    return tuple(str(parsed.extract_field("MSA", 1, n, 1, 1) or "") for n in (1, 2, 3))


def test_a04_registers_and_a08_updates_a_patient(session, clinic):
    ack = hl7v2.ingest(session, username="reception", message=msg(
        "ADT^A04", "PID|1||H100^^^CLINIC^MR||Nunez^Olga||19700203|F|||||555-0101^^^olga@example.org"))
    code, control, text = msa(ack)
    assert (code, control) == ("AA", "MSG001") and "Registered patient H100" in text
    assert ack.startswith("MSH|^~\\&|CLINIC|MAIN|LEGACY|FRONT|") and "ACK^A04^ACK" in ack
    patient = session.exec(select(Patient).where(Patient.mrn == "H100")).one()
    assert (patient.first_name, patient.last_name, str(patient.birth_date), patient.phone, patient.email) == (
        "Olga", "Nunez", "1970-02-03", "555-0101", "olga@example.org")
    # A08 with only a new phone: the rest stays.
    ack = hl7v2.ingest(session, username="reception", message=msg("ADT^A08", "PID|1||H100||Nunez^Olga||||||||555-0199", control="M2"))
    assert msa(ack)[0] == "AA"
    session.refresh(patient)
    assert (patient.phone, patient.email, str(patient.birth_date)) == ("555-0199", "olga@example.org", "1970-02-03")
    assert session.exec(select(AuditLog.action).where(AuditLog.patient_id == patient.id).order_by(AuditLog.id)).all() == ["create", "update"]


def test_bad_adt_messages_get_ae_with_the_reason_and_change_nothing(session, clinic):
    before = session.exec(select(func.count()).select_from(Patient)).one()
    cases = [
        (msg("ADT^A04", "PID|1||T0||Diaz^Cara||19800101"), "already registered; send ADT^A08"),
        (msg("ADT^A04", "PID|1||H2||Nunez^Olga||1970-02"), "not a birth date"),
        (msg("ADT^A04", "PID|1||H3||^Olga||19700203"), "family name"),
        (msg("ADT^A08", "PID|1||NOPE||Nunez^Olga||19700203"), "send ADT^A04 to register"),
        (msg("ADT^A04", "PID|1||||Nunez^Olga||19700203"), "PID-3"),
    ]
    for message, reason in cases:
        code, _, text = msa(hl7v2.ingest(session, username="reception", message=message))
        assert code == "AE" and reason in text, (message, text)
    assert session.exec(select(func.count()).select_from(Patient)).one() == before
    # A role that may not register: AE, nothing saved.
    code, _, text = msa(hl7v2.ingest(session, username="biller", message=msg("ADT^A04", "PID|1||H9||Nunez^Olga||19700203")))
    assert code == "AE" and "may not register" in text
    # Not a message type taken here, or not HL7 at all: AR.
    assert msa(hl7v2.ingest(session, username="reception", message=msg("ORU^R01", "PID|1||T0")))[0] == "AR"
    assert "MSA|AR|" in hl7v2.ingest(session, username="reception", message="hello")
    assert session.exec(select(func.count()).select_from(Patient)).one() == before


def siu(clinic, start="203003121000", room="", provider=None, kind="Treatment", mrn="T0"):
    npi_or_id = provider or str(clinic.providers[0].id)
    return msg("SIU^S12", f"SCH|1||||||||||^^30^{start}", f"PID|1||{mrn}||Diaz^Cara", "RGS|1",
               f"AIS|1||^{kind}|{start}", f"AIL|1||{room}", f"AIP|1||{npi_or_id}^Able^Ann")


def test_s12_books_through_the_booking_rules(session, clinic):
    code, _, text = msa(hl7v2.ingest(session, username="reception", message=siu(clinic, room="Room 1"), now=now_at("07:00")))
    assert code == "AA" and "Booked appointment" in text, text
    appt = session.exec(select(Appointment)).one()
    assert (appt.status, appt.room_id, appt.starts_at) == ("booked", clinic.rooms[0].id, now_at("10:00"))
    # The same slot again (another patient): AE naming the clash; nothing saved.
    code, _, text = msa(hl7v2.ingest(session, username="reception", message=siu(clinic, start="203003121015", mrn="T1"), now=now_at("07:00")))
    assert code == "AE" and "Ann Able, PT already has an appointment 10:00-10:30" in text
    for message, reason in [
        (siu(clinic, mrn="NOPE"), "register them (ADT^A04) first"),
        (siu(clinic, provider="9999999999"), "names no provider"),
        (siu(clinic, kind="Massage"), "not one of the clinic's visit types"),
        (siu(clinic, room="Attic"), "not a room at Test Clinic"),
        (siu(clinic, start="2030"), "missing or not YYYYMMDDHHMM"),
        (siu(clinic, start="200103121000"), "has already passed"),
    ]:
        code, _, text = msa(hl7v2.ingest(session, username="reception", message=message, now=now_at("07:00")))
        assert code == "AE" and reason in text, (reason, text)
    assert session.exec(select(func.count()).select_from(Appointment)).one() == 1


def test_split_messages_accepts_any_line_ending():
    text = "MSH|^~\\&|A\nPID|1\r\nMSH|^~\\&|B\rPID|2\n"
    assert hl7v2.split_messages(text) == ["MSH|^~\\&|A\rPID|1", "MSH|^~\\&|B\rPID|2"]


def test_any_text_gets_an_ack_and_a_refusal_saves_nothing(session, clinic):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    segments = st.lists(st.one_of(
        st.text(max_size=40),
        st.builds(lambda f: "PID|1||" + "|".join(f), st.lists(st.text(alphabet="ABC019^~&-\\ ", max_size=12), max_size=14)),
        st.builds(lambda f: "AIP|1||" + f, st.text(max_size=14)),
        st.builds(lambda f: "AIS|1||^Treatment|" + f, st.text(alphabet="0123456789-+", max_size=20)),
    ), max_size=5)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(kind=st.sampled_from(["ADT^A04", "ADT^A08", "SIU^S12", "ADT^A99", ""]), body=segments)
    def check(kind, body):
        session.rollback()
        before = session.exec(select(func.count()).select_from(AuditLog)).one()
        ack = hl7v2.ingest(session, username="reception", message=msg(kind, *body), now=now_at("07:00"))
        code = msa(ack)[0]
        assert code in ("AA", "AE", "AR")
        session.rollback()
        if code != "AA":
            assert session.exec(select(func.count()).select_from(AuditLog)).one() == before

    check()
