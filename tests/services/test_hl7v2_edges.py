"""HL7 v2 at its edges: identifiers by type, null values, MSH-1/2/11/12, the ACK's layout per
version and its error codes, batches, and times at the limits of Python's datetime."""

from __future__ import annotations

import hl7
import pytest
from hypothesis import HealthCheck, given, settings
from sqlmodel import func, select

from clinic_app.models import Appointment, AuditLog, Patient
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.interop.hl7 import hl7v2
from clinic_app.services.platform.errors import InvalidInput
from tests.services.helpers import now_at
from tests.services.test_hl7v2 import msa, msg, siu
from tests.strategies import HL7_LIMITS, hl7_limit_texts


def segment(ack: str, name: str) -> list[str]:
    return next(s for s in ack.split("\r") if s.startswith(name)).split("|")


def count(session, model) -> int:
    session.rollback()
    return session.exec(select(func.count()).select_from(model)).one()


def test_the_mrn_is_the_pid3_repetition_typed_mr(session, clinic):
    ack = hl7v2.ingest(session, username="reception", message=msg(
        "ADT^A04", "PID|1||123-45-6789^^^SSA^SS~H200^^^CLINIC^MR||Nunez^Olga||19700203"))
    assert msa(ack)[0] == "AA", ack
    assert session.exec(select(Patient).where(Patient.last_name == "Nunez")).one().mrn == "H200"
    ack = hl7v2.ingest(session, username="reception", message=msg("ADT^A04", "PID|1||123-45-6789^^^SSA^SS||Ortiz^Pia||19700203"))
    code, _, text = msa(ack)
    assert code == "AE" and "no identifier of type MR" in text and "SS" in text
    assert segment(ack, "ERR")[2:4] == ["PID^1^3", "101^Required field missing^HL70357"]
    assert session.exec(select(Patient).where(Patient.last_name == "Ortiz")).first() is None


def test_two_double_quotes_delete_a_value_and_an_empty_field_keeps_it(session, clinic):
    assert msa(hl7v2.ingest(session, username="reception", message=msg(
        "ADT^A04", "PID|1||H300^^^C^MR||Quinn^Ray||19700203|M|||1 Main St^^Hartford^CT^06101||555-0101^^^ray@example.org")))[0] == "AA"
    patient = session.exec(select(Patient).where(Patient.mrn == "H300")).one()
    assert (patient.sex, patient.address_line, patient.city, patient.region, patient.postal_code) == ("male", "1 Main St", "Hartford", "CT", "06101")
    # Empty fields: nothing changes. "" in PID-13.1 and PID-11.1: phone and street deleted, the rest kept.
    assert msa(hl7v2.ingest(session, username="reception", message=msg(
        "ADT^A08", 'PID|1||H300^^^C^MR||||||||""||""', control="M2")))[0] == "AA"
    session.refresh(patient)
    assert (patient.phone, patient.email, patient.address_line, patient.city, patient.last_name) == ("", "ray@example.org", "", "Hartford", "Quinn")
    code, _, text = msa(hl7v2.ingest(session, username="reception", message=msg("ADT^A08", 'PID|1||H300^^^C^MR||""^Ray', control="M3")))
    assert code == "AE" and "cannot delete the patient's family name" in text
    code, _, text = msa(hl7v2.ingest(session, username="reception", message=msg("ADT^A08", "PID|1||H300^^^C^MR|||||X", control="M4")))
    assert code == "AE" and "PID-8 'X'" in text


@pytest.mark.parametrize("header, words, code", [
    ("MSH||LEGACY|FRONT|CLINIC|MAIN|20300312080000||ADT^A04|MSG9|P|2.5", "MSH-2", "101"),
    ("MSH|^^^^|LEGACY|FRONT|CLINIC|MAIN|20300312080000||ADT^A04|MSG9|P|2.5", "MSH-2", "102"),
    ("MSH|ab1&|LEGACY|FRONT|CLINIC|MAIN|20300312080000||ADT^A04|MSG9|P|2.5", "MSH-2", "102"),
    ("MSH|^~\\&|LEGACY|FRONT|CLINIC|MAIN|20300312080000||ADT^A04|MSG9|P|3.0", "MSH-12 version '3.0'", "203"),
    ("MSH|^~\\&|LEGACY|FRONT|CLINIC|MAIN|20300312080000||ORU^R01|MSG9|P|2.5", "ORU^R01 is not taken here", "200"),
    ("MSH|^~\\&|LEGACY|FRONT|CLINIC|MAIN|20300312080000||ADT^A99|MSG9|P|2.5", "ADT^A99 is not taken here", "201"),
])
def test_messages_not_taken_here_get_ar_naming_why(session, clinic, header, words, code):
    before = count(session, Patient)
    ack = hl7v2.ingest(session, username="reception", message=header + "\rPID|1||Z1||Zed^Zo||19700203")
    answer, control, text = msa(ack)
    assert answer == "AR" and words in text, ack
    assert control == "MSG9"
    err = segment(ack, "ERR")
    assert err[3].split("^")[0] == code and err[5] == "MSG^Not a message this interface takes^HL70533", err
    assert count(session, Patient) == before


def test_two_messages_in_one_frame_are_refused_together(session, clinic):
    both = msg("ADT^A04", "PID|1||H400^^^C^MR||Ruiz^Sol||19700203", control="F1") + "\r" + \
        msg("ADT^A04", "PID|1||H401^^^C^MR||Ruiz^Tea||19700203", control="F2")
    code, control, text = msa(hl7v2.ingest(session, username="reception", message=both))
    assert (code, control) == ("AR", "F1") and "holds 2 messages" in text
    assert count(session, Patient) == 3


def test_the_ack_echoes_msh11_and_follows_the_message_version(session, clinic):
    ack = hl7v2.ingest(session, username="reception", message=msg("ADT^A04", "PID|1||H500^^^C^MR||Soto^Uma||19700203").replace("|P|2.5", "|T|2.5"))
    assert segment(ack, "MSH")[10:12] == ["T", "2.5"] and msa(ack)[0] == "AA"
    # v2.3: MSH-9 without the structure, MSA-6 and an ERR-1 (ELD); read by python-hl7 as v2.3.
    dup = msg("ADT^A04", "PID|1||H500^^^C^MR||Soto^Uma||19700203").replace("|P|2.5", "|D|2.3")
    ack = hl7v2.ingest(session, username="reception", message=dup)
    parsed = hl7.parse(ack)
    assert str(parsed.segment("MSH")[9]) == "ACK^A04" and str(parsed.segment("MSH")[11]) == "D" and str(parsed.segment("MSH")[12]) == "2.3"
    msa_fields = segment(ack, "MSA")
    assert msa_fields[1] == "AE" and msa_fields[6] == "205^Duplicate key identifier^HL70357"
    assert segment(ack, "ERR")[1] == "PID^1^3^205&Duplicate key identifier&HL70357"
    # v2.5: ERR-2 where, ERR-3 the 0357 code, ERR-4 severity, ERR-5 the clinic's 0533 code, ERR-8 the words.
    ack = hl7v2.ingest(session, username="reception", message=msg("ADT^A04", "PID|1||H500^^^C^MR||Soto^Uma||19700203"))
    err = segment(ack, "ERR")
    assert err[2:6] == ["PID^1^3", "205^Duplicate key identifier^HL70357", "E", "RULE^Refused by a clinic rule^HL70533"]
    assert "already registered" in err[8]
    # v2.7: MSA-3 is withdrawn; the words are in ERR-8 only.
    ack = hl7v2.ingest(session, username="reception", message=msg("ADT^A04", "PID|1||H500^^^C^MR||Soto^Uma||19700203").replace("|2.5", "|2.7"))
    assert segment(ack, "MSA") == ["MSA", "AE", "MSG001"] and "already registered" in segment(ack, "ERR")[8]


def test_a_rule_refusal_and_an_application_error_are_told_apart(session, clinic, monkeypatch):
    assert msa(hl7v2.ingest(session, username="reception", message=siu(clinic), now=now_at("07:00")))[0] == "AA"
    ack = hl7v2.ingest(session, username="reception", message=siu(clinic, start="203003121015", mrn="T1"), now=now_at("07:00"))
    assert msa(ack)[0] == "AE" and segment(ack, "ERR")[5] == "RULE^Refused by a clinic rule^HL70533"

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(scheduling, "book_appointment", broken)
    before = count(session, AuditLog)
    ack = hl7v2.ingest(session, username="reception", message=siu(clinic, start="203003121300", mrn="T1"), now=now_at("07:00"))
    code, _, text = msa(ack)
    assert code == "AE" and "could not be applied (RuntimeError)" in text
    assert segment(ack, "ERR")[3:6] == ["207^Application internal error^HL70357", "E", "APP^Application error^HL70533"]
    assert count(session, AuditLog) == before


@pytest.mark.parametrize("start", HL7_LIMITS)
def test_times_at_the_limits_are_answered_ae_and_book_nothing(session, clinic, start):
    ack = hl7v2.ingest(session, username="reception", message=siu(clinic, start=start), now=now_at("07:00"))
    code, _, text = msa(ack)
    assert code == "AE" and ("out of range" in text or "not a time zone" in text or "not YYYYMMDDHHMM" in text), text
    assert segment(ack, "ERR")[2:4] == ["AIS^1^4", "102^Data type error^HL70357"]
    assert count(session, Appointment) == 0


def test_any_time_at_the_limits_gets_an_ack(session, clinic):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(start=hl7_limit_texts())
    def check(start):
        session.rollback()
        message = siu(clinic, start=start).replace("PID|1||T0||Diaz^Cara", "PID|1||T0||Diaz^Cara||00010101")
        code = msa(hl7v2.ingest(session, username="reception", message=message, now=now_at("07:00")))[0]
        assert code in ("AA", "AE")
        code = msa(hl7v2.ingest(session, username="reception", message=msg("ADT^A04", f"PID|1||L1^^^C^MR||Lim^It||{start[:8]}")))[0]
        assert code in ("AA", "AE")
        session.rollback()

    check()


def test_batches_are_read_when_their_trailers_agree(session, clinic):
    one = msg("ADT^A04", "PID|1||H600^^^C^MR||Tate^Val||19700203", control="B1")
    two = msg("ADT^A04", "PID|1||H601^^^C^MR||Tate^Wyn||19700203", control="B2")
    batch = "\r".join(["FHS|^~\\&|LEGACY", "BHS|^~\\&|LEGACY", one, two, "BTS|2", "FTS|1"])
    assert [m.split("\r")[0].split("|")[9] for m in hl7v2.read_batch(batch)] == ["B1", "B2"]
    assert [m.split("|")[9] for m in hl7v2.read_batch(one + "\n" + two)] == ["B1", "B2"]
    for bad, words in [(batch.replace("BTS|2", "BTS|3"), "holds 3 messages (BTS-1) but holds 2"),
                       (batch.replace("FTS|1", "FTS|2"), "FTS-1"), ("\r".join(["BHS|^~\\&|L", one]), "no trailer (BTS)")]:
        with pytest.raises(InvalidInput, match=words.replace("(", r"\(").replace(")", r"\)")):
            hl7v2.read_batch(bad)
    # A batch sent as one message (over MLLP, one frame) is refused with an AR.
    code, _, text = msa(hl7v2.ingest(session, username="reception", message="BHS|^~\\&|L\r" + one + "\rBTS|1"))
    assert code == "AR" and "must start with MSH" in text
