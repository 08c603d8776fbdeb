"""Importers post everything or nothing (issue 12, break 4).

A FHIR transaction Bundle, an 835 and an HL7 batch are each applied in one transaction that
their caller owns (db.one_transaction: the command line, POST /fhir). Whatever entry is
bad, wherever it sits, and whatever the services it composes do with their own commits, no
row of any table changes and no live event is sent. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, SQLModel, func, select
from starlette.testclient import TestClient

from clinic_app import db
from clinic_app.api import build_api
from clinic_app.live import bus
from clinic_app.models import Claim, ClaimLine, Patient
from clinic_app.services.interop.fhir import mapping as fhir_map
from clinic_app.services.interop.fhir import write as fhir_write
from clinic_app.services.interop.hl7 import hl7v2
from clinic_app.services.platform import api_tokens
from clinic_app.services.platform.errors import ClinicError, InvalidInput
from clinic_app.services.revenue import claims, era, payers
from tests.services.helpers import now_at
from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing
from tests.services.x12_835 import Line, Paid, remittance


def row_counts(engine) -> dict[str, int]:
    """How many rows every table of the schema holds (one query)."""
    tables = SQLModel.metadata.sorted_tables
    query = select(*[select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables])
    with engine.connect() as conn:
        return dict(zip([t.name for t in tables], conn.execute(query).one(), strict=True))


# -- db.for_write no longer commits what a caller composed --------------------------------------
def test_for_write_never_commits_work_already_written_in_the_transaction(engine, session, clinic):
    session.add(Patient(mrn="W1", first_name="Wren", last_name="Early", birth_date=dt.date(1980, 1, 1)))
    session.flush()  # written, nothing pending any more: for_write used to commit it here
    db.for_write(session)
    session.rollback()
    with Session(engine) as other:
        assert other.exec(select(Patient).where(Patient.mrn == "W1")).first() is None


def test_one_transaction_turns_a_services_commit_into_part_of_the_whole(engine, clinic):
    with pytest.raises(RuntimeError, match="after the service committed"), db.one_transaction(engine) as session:
        session.add(Patient(mrn="W2", first_name="Wren", last_name="Late", birth_date=dt.date(1980, 1, 1)))
        session.commit()  # what a service does at its end
        raise RuntimeError("something after the service committed")
    with Session(engine) as other:
        assert other.exec(select(Patient).where(Patient.mrn == "W2")).first() is None
    with db.one_transaction(engine) as session:
        session.add(Patient(mrn="W3", first_name="Wren", last_name="Kept", birth_date=dt.date(1980, 1, 1)))
        session.commit()
    with Session(engine) as other:
        assert other.exec(select(Patient).where(Patient.mrn == "W3")).one()


# -- a FHIR transaction Bundle --------------------------------------------------------------------
def _good_entries() -> list[dict]:
    practitioner = {"resourceType": "Practitioner", "id": "pr1", "name": [{"text": "Pia Import, PT"}],
                    "extension": [{"url": fhir_map.EXT_LOCATION, "valueReference": {"reference": "Location/l1"}}]}
    start = dt.datetime(2030, 4, 2, 14, 0, tzinfo=dt.UTC)
    return [
        {"fullUrl": "Location/l1", "resource": {"resourceType": "Location", "id": "l1", "name": "Import Annex"}},
        {"fullUrl": "Practitioner/pr1", "resource": practitioner},
        {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "name": [{"family": "Ives", "given": ["Ada"]}],
                                                "birthDate": "1981-01-01",
                                                "identifier": [{"system": fhir_map.MRN_SYSTEM, "value": "IMP1"}]}},
        {"fullUrl": "urn:uuid:p2", "resource": {"resourceType": "Patient", "name": [{"family": "Ives", "given": ["Bo"]}],
                                                "birthDate": "1982-02-02",
                                                "identifier": [{"system": fhir_map.MRN_SYSTEM, "value": "IMP2"}]}},
        {"resource": {"resourceType": "Appointment", "status": "booked", "appointmentType": {"text": "Treatment"},
                      "start": start.isoformat(), "end": (start + dt.timedelta(minutes=30)).isoformat(),
                      "participant": [{"actor": {"reference": "urn:uuid:p1"}, "status": "accepted"},
                                      {"actor": {"reference": "Practitioner/pr1"}, "status": "accepted"}]}},
        {"resource": {"resourceType": "AllergyIntolerance", "code": {"text": "Latex"}, "patient": {"reference": "urn:uuid:p1"},
                      "recordedDate": "2030-03-01T10:00:00Z", "clinicalStatus": {"coding": [
                          {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]}}},
        {"resource": {"resourceType": "Coverage", "status": "active", "subscriberId": "IMPM2", "order": 1,
                      "beneficiary": {"reference": "urn:uuid:p2"}, "period": {"start": "2030-01-01"},
                      "payor": [{"display": "Import Mutual", "identifier": {"value": "IMPMUT"}}]}},
    ]


BAD_ENTRIES = {
    "a patient without a given name": {"resource": {"resourceType": "Patient", "name": [{"family": "Nogiven"}],
                                                    "birthDate": "1990-01-01"}},
    "a coverage (applied last) of a patient who is nowhere": {
        "resource": {"resourceType": "Coverage", "status": "active", "subscriberId": "BADM", "order": 1,
                     "beneficiary": {"reference": "Patient/999999"}, "period": {"start": "2030-01-01"},
                     "payor": [{"display": "Import Mutual", "identifier": {"value": "IMPMUT"}}]}},
    "an allergy of a patient who is nowhere": {
        "resource": {"resourceType": "AllergyIntolerance", "code": {"text": "Dust"}, "patient": {"reference": "Patient/999999"},
                     "recordedDate": "2030-03-01T10:00:00Z"}},
}


def _bundle(entries: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _with_bad(bad: dict, position: int) -> dict:
    entries = _good_entries()
    entries.insert(position, bad)
    return _bundle(entries)


@pytest.mark.parametrize("path", ["service", "one transaction (the command line)", "POST /fhir"])
def test_a_bundle_with_a_bad_entry_anywhere_changes_no_table(engine, session, clinic, tmp_path, path):
    session.commit()
    before = row_counts(engine)
    api = headers = None
    if path == "POST /fhir":
        _, secret = api_tokens.create_token(session, actor=clinic.admin, username="admin", scopes="system/*.write", days=5)
        session.commit()
        before = row_counts(engine)
        headers = {"Authorization": f"Bearer {secret}"}
        api = TestClient(build_api(lambda: engine, export_dir=tmp_path / "exports"))

    def attempt(bundle: dict) -> None:
        if path == "service":
            with Session(engine, expire_on_commit=False) as fresh:
                fhir_write.import_bundle(fresh, actor=clinic.admin, bundle=bundle)
                fresh.commit()  # the caller owns the transaction
        elif path.startswith("one transaction"):
            with db.one_transaction(engine) as owned:
                fhir_write.import_bundle(owned, actor=None, bundle=bundle, source="cli")
        else:
            answer = api.post("/fhir", json=bundle, headers=headers)
            if answer.status_code != 200:
                raise InvalidInput(answer.json()["issue"][0]["diagnostics"])

    positions = range(len(_good_entries()) + 1)
    with bus.held() as published:
        for kind, bad in BAD_ENTRIES.items():
            for position in positions:
                with pytest.raises(ClinicError, match=r"[Nn]othing was imported"):
                    attempt(_with_bad(bad, position))
                assert row_counts(engine) == before, f"{kind} at entry {position + 1} ({path}) changed rows"
        assert published == []
        attempt(_bundle(_good_entries()))  # and the same Bundle without the bad entry imports whole
    after = row_counts(engine)
    assert after["patient"] == before["patient"] + 2 and after["appointment"] == before["appointment"] + 1
    assert after["patient_allergy"] == before["patient_allergy"] + 1 and after["coverage"] == before["coverage"] + 1


# -- an 835 ---------------------------------------------------------------------------------------
@pytest.fixture
def three_sent(session, clinic, tmp_path):
    """Three submitted claims (a visit each) for a patient who has a secondary payer too."""
    acme = set_up_billing(session, clinic)
    beta = payers.create_payer(session, actor=clinic.biller, name="Beta Mutual", payer_id="BETA2")
    payers.set_fee(session, actor=clinic.biller, payer_id=beta.id, code="97110", amount="35")
    cover(session, clinic, acme)
    cover(session, clinic, beta, priority=2)
    sent = [claimed_visit(session, clinic, hhmm) for hhmm in ("09:00", "10:00", "11:00")]
    claims.export(session, actor=clinic.biller, out_dir=tmp_path / "837", now=now_at("12:00"))
    session.commit()
    return sent


def _paid(session, claim: Claim) -> Paid:
    """The primary pays $50 of $77 and leaves $17 to the patient: a secondary claim follows."""
    line = session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.id)).one()
    return Paid(claim.number, "1", 7700, 5000, 1700, [
        Line("97110", 7700, 5000, 2, ("GP",), str(line.id), [("CO", "45", 1000), ("PR", "1", 1700)]),
    ])


@pytest.mark.parametrize("owned", [False, True], ids=["service", "one transaction (the command line)"])
def test_an_835_that_pays_a_claim_twice_or_an_unknown_one_anywhere_posts_nothing(engine, session, clinic, three_sent, owned):
    good = [_paid(session, c) for c in three_sent]
    session.commit()
    before = row_counts(engine)
    later = dt.datetime(2030, 3, 21, 15, 0, tzinfo=dt.UTC)

    def post(text: str) -> dict:
        if owned:
            with db.one_transaction(engine) as own:
                return era.post(own, actor=clinic.biller, text=text, now=later)
        with Session(engine, expire_on_commit=False) as fresh:
            summary = era.post(fresh, actor=clinic.biller, text=text, now=later)
            fresh.commit()  # the caller owns the transaction
            return summary

    bad_kinds = {f"claim {n + 1} paid again": good[n] for n in range(len(good))}
    bad_kinds["a claim we never sent"] = Paid("NEVER1", "1", 7700, 5000, 1700, [Line("97110", 7700, 5000, 2, ("GP",))])
    with bus.held() as published:
        for kind, bad in bad_kinds.items():
            for position in range(len(good) + 1):
                remits = list(good)
                remits.insert(position, bad)
                with pytest.raises(ClinicError):
                    post(remittance(remits, control=300 + position))
                assert row_counts(engine) == before, f"{kind} at position {position + 1} posted something"
        assert published == []
        summary = post(remittance(good, control=399))
    assert summary["claims"] == 3 and len(summary["secondary_claims"]) == 3
    assert row_counts(engine)["remittance"] == before["remittance"] + 1


# -- an HL7 batch ---------------------------------------------------------------------------------
def _msg(kind: str, *segments: str, control: str) -> str:
    return "\r".join([f"MSH|^~\\&|LEGACY|FRONT|CLINIC|MAIN|20300312080000||{kind}|{control}|P|2.5", *segments])


def _good_batch(clinic) -> list[str]:
    provider = str(clinic.providers[0].id)

    def siu(mrn: str, start: str, control: str) -> str:
        return _msg("SIU^S12", f"SCH|1||||||||||^^30^{start}", f"PID|1||{mrn}||Diaz^Cara", "RGS|1",
                    f"AIS|1||^Treatment|{start}", "AIL|1||", f"AIP|1||{provider}^Able^Ann", control=control)

    return [
        _msg("ADT^A04", "PID|1||HB1^^^CLINIC^MR||Nunez^Olga||19700203|F", control="B1"),
        _msg("ADT^A04", "PID|1||HB2^^^CLINIC^MR||Nunez^Pia||19710304|F", control="B2"),
        siu("HB1", "203003121000", "B3"),
        siu("HB2", "203003121100", "B4"),
        _msg("ADT^A08", "PID|1||HB1||Nunez^Olga||||||||555-0199", control="B5"),
    ]


HL7_BAD = {
    "an update of a patient not registered": _msg("ADT^A08", "PID|1||NOPE||Nunez^Olga||19700203", control="X1"),
    "a message type not taken here": _msg("ORU^R01", "PID|1||T0", control="X2"),
    "a booking at a time already taken": None,  # built per batch below: the slot of message 3
}


def test_an_hl7_batch_with_a_refused_message_anywhere_applies_none_of_it(engine, session, clinic):
    session.commit()
    before = row_counts(engine)
    good = _good_batch(clinic)
    clash = good[2].replace("|B3|", "|X3|").replace("PID|1||HB1||", "PID|1||HB2||")
    with bus.held() as published:
        for kind, bad in {**HL7_BAD, "a booking at a time already taken": clash}.items():
            for position in range(len(good) + 1):
                batch = list(good)
                batch.insert(position, bad)
                with pytest.raises(hl7v2.BatchRefused) as refused, db.one_transaction(engine) as owned:
                    hl7v2.ingest_batch(owned, username="reception", messages=batch, now=now_at("07:00"))
                assert row_counts(engine) == before, f"{kind} at message {position + 1} left rows"
                # Every message is answered: the refused one with its reason, the rest "not applied".
                acks = refused.value.acks
                assert len(acks) == len(batch) and not any("MSA|AA|" in a for a in acks)
                assert sum("Not applied" in a for a in acks) >= len(batch) - 2
        assert published == []
        with db.one_transaction(engine) as owned:
            acks = hl7v2.ingest_batch(owned, username="reception", messages=good, now=now_at("07:00"))
    assert all("MSA|AA|" in a for a in acks)
    assert len(published) == 2  # the two bookings' live events, sent once the batch committed
    after = row_counts(engine)
    assert after["patient"] == before["patient"] + 2 and after["appointment"] == before["appointment"] + 2


def test_the_command_line_imports_a_bundle_whole_or_not_at_all(sqlite_template, tmp_path):
    """`python -m clinic_app fhir import` itself (its one transaction is tested on both databases above)."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    from clinic_app.db import make_engine
    from clinic_app.settings import PROJECT_ROOT

    shutil.copy(sqlite_template, tmp_path / "clinic.db")
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    engine = make_engine(url)
    before = row_counts(engine)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_with_bad(BAD_ENTRIES["a coverage (applied last) of a patient who is nowhere"], 3)))
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", "clinic_app", "fhir", "import", str(bad)], capture_output=True, text=True,
                          env=env, cwd=PROJECT_ROOT, timeout=300)
    assert done.returncode == 1 and "Nothing was imported" in done.stderr
    assert row_counts(engine) == before
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_bundle(_good_entries())))
    done = subprocess.run([sys.executable, "-m", "clinic_app", "fhir", "import", str(good)], capture_output=True, text=True,
                          env=env, cwd=PROJECT_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert row_counts(engine)["patient"] == before["patient"] + 2
    engine.dispose()
