"""Fuzzing the FHIR API with hypothesis: whatever is sent, no 500s, and a refused
write leaves the database as it was (no partial writes)."""

from __future__ import annotations

import os
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from clinic_app.models import Appointment, AuditLog, Note, Patient
from clinic_app.services import fhir

FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=30), st.sampled_from(["", "1", "Patient/1", "room-1", "2030-03-12T14:00:00Z",
                                                           "1980-02-30", "urn:uuid:x", "booked", "cancelled"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)


def shaped(kind: str):
    """Resources with the right keys and wrong (or right) values."""
    keys = {
        "Patient": ["name", "birthDate", "identifier", "telecom", "active", "id"],
        "Appointment": ["status", "start", "end", "participant", "appointmentType", "cancelationReason", "id"],
    }[kind]
    return st.fixed_dictionaries({"resourceType": st.just(kind)}, optional=dict.fromkeys(keys, json_values))


def counts(session) -> tuple[int, int, int, int]:
    session.rollback()
    return tuple(session.exec(select(func.count()).select_from(m)).one() for m in (Patient, Appointment, Note, AuditLog))


def test_search_parameters_never_cause_a_server_error(api, token, clinic):
    h = token("biller", "user/*.read")

    @FUZZ
    @given(kind=st.sampled_from([*fhir.TYPES, "Nope", "$meta"]),
           params=st.lists(st.tuples(st.sampled_from(["name", "birthdate", "identifier", "date", "patient", "status", "_count",
                                                     "_offset", "_id", "code", "created", "x"]),
                                     st.one_of(st.text(max_size=40), st.sampled_from(["ge2030-03", "lt1980", "eq2030-02-30",
                                                                                      "2030-03-12T25:00", "-1", "1000000000000"]))),
                           max_size=4),
           ident=st.text(max_size=20))
    def check(kind, params, ident):
        r = api.get(f"/fhir/{kind}", params=params, headers=h)
        assert r.status_code in (200, 400, 403, 404), r.text
        r = api.get(f"/fhir/{kind}/{quote(ident, safe='')}", headers=h)
        assert r.status_code in (200, 400, 403, 404, 405), r.text

    check()


def test_writes_never_cause_a_server_error_or_a_partial_write(api, token, clinic, session):
    h = token("reception")
    patient_id = clinic.patients[0].id

    @FUZZ
    @given(body=st.one_of(shaped("Patient"), shaped("Appointment"), json_values),
           where=st.sampled_from(["POST /fhir/Patient", f"PUT /fhir/Patient/{patient_id}", "POST /fhir/Appointment",
                                  "PUT /fhir/Appointment/1", "POST /fhir/Claim"]))
    def check(body, where):
        before = counts(session)
        method, path = where.split(" ")
        r = api.request(method, path, json=body, headers=h)
        assert r.status_code < 500, r.text
        if r.status_code >= 400:
            assert r.json()["resourceType"] == "OperationOutcome"
            assert counts(session) == before

    check()


def test_transaction_bundles_never_cause_a_server_error_or_a_partial_write(api, token, clinic, session):
    h = token("admin", "system/*.write")
    entry = st.fixed_dictionaries({"resource": st.one_of(shaped("Patient"), shaped("Appointment"), json_values)},
                                  optional={"fullUrl": st.sampled_from(["urn:uuid:a", "Patient/1", "x"])})

    @FUZZ
    @given(bundle=st.one_of(
        st.fixed_dictionaries({"resourceType": st.just("Bundle"), "type": st.sampled_from(["transaction", "batch", "x"]),
                               "entry": st.lists(entry, max_size=4)}),
        json_values))
    def check(bundle):
        before = counts(session)
        r = api.post("/fhir", json=bundle, headers=h)
        assert r.status_code < 500, r.text
        if r.status_code >= 400:
            assert counts(session) == before

    check()
