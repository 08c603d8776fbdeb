"""What a trading partner sends at the edges of FHIR R4 (http.html, search.html, the Bulk Data IG):
instants at Python's limits, resources R4 does not allow, search semantics, formats and methods,
bulk export's parameters, batch Bundles. Each answer is FHIR: a Bundle or an OperationOutcome."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from clinic_app.models import Appointment, AuditLog, Patient
from clinic_app.services.interop.fhir import fhir_validate
from clinic_app.services.interop.fhir import mapping as fhir_map
from clinic_app.services.interop.fhir import write as fhir_write
from clinic_app.services.platform.errors import InvalidInput
from tests.api.conftest import ALL_READ, validate
from tests.api.test_fhir_write import new_patient
from tests.conftest import at
from tests.services.helpers import book
from tests.strategies import FHIR_LIMITS, fhir_limit_texts

# (type, date parameter, who may read it)
DATE_PARAMS = [("Patient", "birthdate", "reception"), ("Appointment", "date", "reception"), ("Encounter", "date", "reception"),
               ("Condition", "recorded-date", "biller"), ("Claim", "created", "biller"), ("DocumentReference", "date", "clin"),
               ("Observation", "date", "clin")]


def is_fhir(r) -> bool:
    return r.headers["content-type"].startswith("application/fhir+json")


def count(session, model) -> int:
    session.rollback()
    return session.exec(select(func.count()).select_from(model)).one()


def appointment(clinic, start: str) -> dict:
    return {"resourceType": "Appointment", "status": "booked", "appointmentType": {"text": "Treatment"}, "start": start,
            "participant": [{"actor": {"reference": f"Patient/{clinic.patients[0].id}"}, "status": "accepted"},
                            {"actor": {"reference": f"Practitioner/{clinic.providers[0].id}"}, "status": "accepted"}]}


# -- instants at the limits ------------------------------------------------------------------------------
def test_date_search_with_extreme_instants_answers_on_every_type(api, token, clinic, signed_visit):
    heads = {who: token(who, ALL_READ) for who in ("reception", "biller", "clin")}
    for kind, param, who in DATE_PARAMS:
        for value in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "le9999-12-31T23:59:59.999999Z",
                      "ge0001-01-01T00:00:00+14:00", "gt9999-12-31T23:59:59Z", "eb0001-01-01", "sa9999", "ne9999-12"):
            r = api.get(f"/fhir/{kind}", params={param: value}, headers=heads[who])
            assert r.status_code == 200 and is_fhir(r), (kind, param, value, r.status_code, r.text[:200])
            validate(r.json())
    # The instants mean what they say: everything is before the end of year 9999, nothing after it.
    everything = api.get("/fhir/Appointment", params={"date": "le9999-12-31T23:59:59.999999Z"}, headers=heads["reception"]).json()
    assert everything["total"] == 1
    assert api.get("/fhir/Appointment", params={"date": "gt9999-12-31T23:59:59Z"}, headers=heads["reception"]).json()["total"] == 0
    assert api.get("/fhir/Appointment", params={"date": "ge0001-01-01T00:00:00+14:00"}, headers=heads["reception"]).json()["total"] == 1


def test_any_instant_at_the_limits_is_a_search_answer_never_a_500(api, token, clinic):
    h = token("reception", ALL_READ)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(text=fhir_limit_texts(), prefix=st.sampled_from(["", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"]),
           kind=st.sampled_from(["Appointment", "Patient"]))
    def check(text, prefix, kind):
        r = api.get(f"/fhir/{kind}", params={"date" if kind == "Appointment" else "birthdate": prefix + text}, headers=h)
        assert r.status_code in (200, 400) and is_fhir(r), (text, r.status_code, r.text[:200])
        assert r.json()["resourceType"] == ("Bundle" if r.status_code == 200 else "OperationOutcome")

    check()


def test_writes_with_extreme_instants_are_refused_with_an_outcome(api, token, clinic, session):
    h, admin = token("reception"), token("admin", "system/*.write")
    appt = book(session, clinic, "09:00")
    before = count(session, Appointment)
    for start in FHIR_LIMITS[:5]:
        r = api.post("/fhir/Appointment", json=appointment(clinic, start), headers=h)
        assert r.status_code == 400 and is_fhir(r), (start, r.text)
        assert "out of range" in r.json()["issue"][0]["diagnostics"]
        mine = api.get(f"/fhir/Appointment/{appt.id}", headers=h).json()
        r = api.put(f"/fhir/Appointment/{appt.id}", json={**mine, "start": start}, headers=h)
        assert r.status_code == 400 and is_fhir(r), (start, r.text)
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": {**appointment(clinic, start), "end": start}, "request": {"method": "POST", "url": "Appointment"}}]}
        r = api.post("/fhir", json=bundle, headers=admin)
        assert r.status_code == 400 and "Entry 1 (Appointment)" in r.text and "Nothing was imported" in r.text, r.text
    assert count(session, Appointment) == before


def test_any_instant_at_the_limits_is_refused_or_booked_never_a_500(api, token, clinic, session):
    h = token("reception")

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(text=fhir_limit_texts())
    def check(text):
        r = api.post("/fhir/Appointment", json=appointment(clinic, text), headers=h)
        assert r.status_code in (201, 400, 409) and is_fhir(r), (text, r.status_code, r.text[:200])

    check()


# -- validation against R4 4.0.1 -----------------------------------------------------------------------------
def test_resources_r4_does_not_allow_are_refused_naming_the_path(api, token, clinic, session):
    h = token("reception")
    before = count(session, Patient)
    cases = [
        (new_patient(gender="banana"), "Patient.gender", "administrative-gender"),
        (new_patient(telecom=[{"system": "pager-x", "value": "1"}]), "Patient.telecom[0].system", "contact-point-system"),
        (new_patient(nickname="Jojo"), "Patient.nickname", "not an element"),
        (new_patient(name={"family": "Ives"}), "Patient.name", "must be a list"),
        (new_patient(active="yes"), "Patient.active", "true or false"),
        (new_patient(name=[{"family": "Ives", "given": ["Jo"], "use": "nick"}]), "Patient.name[0].use", "name-use"),
        (new_patient(address=[{"city": 7}]), "Patient.address[0].city", "must be a string"),
    ]
    for body, path, words in cases:
        r = api.post("/fhir/Patient", json=body, headers=h)
        assert r.status_code == 400 and is_fhir(r), (body, r.text)
        issue = r.json()["issue"][0]
        assert issue["expression"] == [path] and words in issue["diagnostics"], (path, issue)
        validate(r.json())
    # Two problems: two issues.
    r = api.post("/fhir/Patient", json=new_patient(gender="banana", telecom=[{"system": "pager-x", "value": "1"}]), headers=h)
    assert [i["expression"] for i in r.json()["issue"]] == [["Patient.gender"], ["Patient.telecom[0].system"]]
    pid = clinic.patients[0].id
    r = api.put(f"/fhir/Patient/{pid}", json=new_patient(id=str(pid), gender="banana"), headers=h)
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["Patient.gender"]
    bad = appointment(clinic, "2030-03-12T14:00:00Z")
    bad["participant"][0]["status"] = "maybe"
    r = api.post("/fhir/Appointment", json=bad, headers=h)
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["Appointment.participant[0].status"]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": new_patient(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": new_patient(gender="banana"), "request": {"method": "POST", "url": "Patient"}}]}
    r = api.post("/fhir", json=bundle, headers=token("admin", "system/*.write"))
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.gender"]
    assert "Entry 2 (Patient)" in r.text
    assert count(session, Patient) == before


def test_gender_and_address_are_stored_and_returned(api, token, clinic, session):
    h = token("reception")
    body = new_patient(gender="female", address=[{"use": "old", "line": ["9 Gone St"], "city": "Past"},
                                                  {"use": "home", "line": ["12 Elm St", "Apt 3"], "city": "Hartford",
                                                   "state": "CT", "postalCode": "06101"}])
    r = api.post("/fhir/Patient", json=body, headers=h)
    assert r.status_code == 201, r.text
    created = r.json()
    validate(created)
    assert created["gender"] == "female"
    assert created["address"] == [{"use": "home", "line": ["12 Elm St, Apt 3"], "city": "Hartford", "state": "CT", "postalCode": "06101"}]
    session.rollback()
    row = session.get(Patient, int(created["id"]))
    assert (row.sex, row.address_line, row.city, row.region, row.postal_code) == ("female", "12 Elm St, Apt 3", "Hartford", "CT", "06101")
    r = api.put(f"/fhir/Patient/{created['id']}", json={**created, "gender": "other"}, headers=h)
    assert r.status_code == 200 and r.json()["gender"] == "other" and r.json()["address"] == created["address"]
    assert api.get(f"/fhir/Patient/{created['id']}", headers=h).json()["gender"] == "other"


def test_required_bindings_are_the_r4_value_sets():
    """The value sets listed for required bindings agree with fhir.resources' models (R4B: same sets
    for these elements) wherever those models carry them."""
    from fhir.resources.R4B import get_fhir_model_class

    compared = 0
    for (cls, element), (name, codes) in fhir_validate.REQUIRED.items():
        try:
            model = get_fhir_model_class(cls)
        except (KeyError, ValueError, AttributeError):
            continue
        field = model.model_fields.get(element)
        extra = (field.json_schema_extra or {}) if field else {}
        if "enum_values" in extra:
            # fhir.resources copies the element's short title, where "+" means "and more codes".
            listed = set(extra["enum_values"]) - {"+"}
            assert listed == codes or ("+" in extra["enum_values"] and listed < codes), (cls, element, name, listed ^ codes)
            compared += 1
    assert compared >= 25


# -- search ------------------------------------------------------------------------------------------------------
def _names(bundle) -> list[str]:
    return sorted(e["resource"]["name"][0]["family"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")


def test_search_ors_commas_matches_starts_of_words_and_takes_modifiers(api, token, clinic, session):
    session.add_all([Patient(mrn="MM1", first_name="Rosa", last_name="Montoya", birth_date=dt.date(1970, 1, 1)),
                     Patient(mrn="MM2", first_name="Ana Maria", last_name="De la Cruz", birth_date=dt.date(1971, 1, 1), active=False)])
    session.commit()
    h = token("reception", ALL_READ)

    def search(**params):
        r = api.get("/fhir/Patient", params=params, headers=h)
        assert r.status_code == 200, r.text
        return r.json()

    ids = [str(p.id) for p in clinic.patients]
    assert sorted(e["resource"]["id"] for e in search(_id=f"{ids[0]},{ids[2]}")["entry"]) == sorted([ids[0], ids[2]])
    assert _names(search(identifier="T0,urn:clinic-app:mrn|T1")) == ["Diaz", "Fox"]
    assert _names(search(name="diaz,fox")) == ["Diaz", "Fox"]
    assert _names(search(name="ontoya")) == []  # starts-with: not a match inside a word
    assert _names(search(name="mont")) == ["Montoya"]
    assert _names(search(name="maria")) == ["De la Cruz"]  # the start of any word of the name
    assert _names(search(name="cruz")) == ["De la Cruz"]
    assert _names(search(**{"name:contains": "ontoy"})) == ["Montoya"]
    assert _names(search(**{"name:exact": "Montoya"})) == ["Montoya"]
    assert _names(search(**{"name:exact": "montoya"})) == []  # exact: case as written
    assert _names(search(**{"family:exact": "De la Cruz"})) == ["De la Cruz"]
    assert _names(search(identifier="|T0")) == []  # no system: the MRN has one
    assert _names(search(identifier="urn:clinic-app:mrn|")) != []
    assert _names(search(active="false")) == ["De la Cruz"]
    for params, words in [({"active": "yes"}, "true or false"), ({"name:sounds": "x"}, "takes no :sounds modifier"),
                          ({"birthdate:exact": "1970"}, "takes no :exact"), ({"colour": "red"}, "cannot be searched by 'colour'")]:
        r = api.get("/fhir/Patient", params=params, headers=h)
        assert r.status_code == 400 and words in r.json()["issue"][0]["diagnostics"], (params, r.text)
    # _count above the maximum: held at it, with a warning entry.
    big = search(_count="500")
    outcome = [e for e in big["entry"] if e["search"]["mode"] == "outcome"]
    assert len(outcome) == 1 and "held at 100" in outcome[0]["resource"]["issue"][0]["diagnostics"]
    assert "_count=100" in big["link"][0]["url"]
    validate(big)
    # Prefer: handling=lenient ignores what it does not know, and says so.
    r = api.get("/fhir/Patient", params={"colour": "red", "name": "mont"}, headers={**h, "Prefer": "handling=lenient"})
    assert r.status_code == 200 and _names(r.json()) == ["Montoya"]
    assert "'colour'" in next(e for e in r.json()["entry"] if e["search"]["mode"] == "outcome")["resource"]["issue"][0]["diagnostics"]
    # POST [type]/_search with form parameters (and the URL's).
    r = api.post("/fhir/Patient/_search?active=true", content="name=mont,fox&_count=5",
                 headers={**h, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and _names(r.json()) == ["Fox", "Montoya"], r.text
    r = api.post("/fhir/Patient/_search", json={"name": "mont"}, headers=h)
    assert r.status_code == 415 and is_fhir(r)
    # The directory types follow the same string rule.
    assert api.get("/fhir/Location", params={"name": "clinic"}, headers=h).json()["total"] == 1
    assert api.get("/fhir/Location", params={"name": "linic"}, headers=h).json()["total"] == 0


# -- formats, methods, versions -------------------------------------------------------------------------------------------
def test_http_edges_answer_in_fhir(api, token, clinic):
    h = token("reception")
    pid = clinic.patients[0].id
    mine = api.get(f"/fhir/Patient/{pid}", headers=h).json()
    no_id = {k: v for k, v in mine.items() if k != "id"}
    r = api.put(f"/fhir/Patient/{pid}", json=no_id, headers=h)
    assert r.status_code == 400 and "with id" in r.json()["issue"][0]["diagnostics"]
    for method in ("GET", "DELETE", "PATCH", "PUT", "OPTIONS", "FOO"):
        r = api.request(method, "/fhir", headers=h)
        assert r.status_code in (400, 405) and is_fhir(r) and r.json()["resourceType"] == "OperationOutcome", (method, r.text[:100])
    r = api.request("TRACE", f"/fhir/Patient/{pid}", headers=h)
    assert r.status_code == 405 and is_fhir(r)
    for params, headers in [({"_format": "xml"}, {}), ({"_format": "application/fhir+xml"}, {}), ({}, {"Accept": "application/fhir+xml"}),
                            ({}, {"Accept": "text/html"}), ({}, {"Accept": "application/fhir+json;q=0, application/xml"})]:
        r = api.get(f"/fhir/Patient/{pid}", params=params, headers={**h, **headers})
        assert r.status_code == 406 and is_fhir(r), (params, headers)
    assert api.get("/fhir/metadata", params={"_format": "xml"}).status_code == 406
    ok = api.get(f"/fhir/Patient/{pid}", headers={**h, "Accept": "application/fhir+xml;q=0.9, application/fhir+json;q=0.5"})
    assert ok.status_code == 200
    assert api.get(f"/fhir/Patient/{pid}", params={"_format": "json"}, headers=h).status_code == 200
    # HEAD: the status and headers of GET, no body.
    for url in (f"/fhir/Patient/{pid}", "/fhir/Patient?name=diaz", "/fhir/metadata"):
        got, head = api.get(url, headers=h), api.head(url, headers=h)
        assert head.status_code == got.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["content-length"] == got.headers["content-length"]
    assert api.head("/fhir/Patient/999999", headers=h).status_code == 404
    # No versions kept: the CapabilityStatement says so, resources carry lastUpdated only, If-Match is refused.
    assert "versionId" not in mine["meta"] and mine["meta"]["lastUpdated"].endswith("Z")
    cap = api.get("/fhir/metadata").json()
    assert {r["versioning"] for r in cap["rest"][0]["resource"]} == {"no-version"}
    assert "etag" not in api.get(f"/fhir/Patient/{pid}", headers=h).headers
    r = api.put(f"/fhir/Patient/{pid}", json=mine, headers={**h, "If-Match": 'W/"1"'})
    assert r.status_code == 400 and "no versions" in r.text
    r = api.post("/fhir/Patient", json=new_patient(), headers={**h, "If-None-Exist": "identifier=T9"})
    assert r.status_code == 400 and "Conditional create" in r.text


# -- bulk export -----------------------------------------------------------------------------------------------------
def _export(api, headers, *, params=None, body=None) -> dict[str, list[dict]]:
    headers = {**headers, "Prefer": "respond-async"}
    r = api.post("/fhir/$export", json=body, headers=headers) if body is not None else api.get("/fhir/$export", params=params, headers=headers)
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 60
    while (poll := api.get(r.headers["content-location"], headers=headers)).status_code == 202:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert poll.status_code == 200, poll.text
    return {o["type"]: [json.loads(x) for x in api.get(o["url"], headers=headers).text.splitlines()] for o in poll.json()["output"]}


def test_bulk_export_honours_since_output_format_and_a_post_kickoff(api, token, clinic, session):
    admin = token("admin", "system/*.read")
    everything = _export(api, admin, params={"_type": "Patient"})
    assert sorted(p["identifier"][0]["value"] for p in everything["Patient"]) == ["T0", "T1", "T2"]
    stamps = [p["meta"]["lastUpdated"] for p in everything["Patient"]]
    cut = max(dt.datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps)
    time.sleep(0.01)
    patient = session.get(Patient, clinic.patients[1].id)
    patient.phone = "555-0111"
    session.add(patient)
    session.commit()
    since = cut.isoformat().replace("+00:00", "Z")
    changed = _export(api, admin, params={"_type": "Patient,Appointment", "_since": since})
    assert [p["identifier"][0]["value"] for p in changed.get("Patient", [])] == ["T1"]
    assert "Appointment" not in changed  # nothing booked since
    # A POST kick-off's Parameters are honoured: only what was asked for.
    body = {"resourceType": "Parameters", "parameter": [{"name": "_type", "valueString": "Patient"},
                                                         {"name": "_since", "valueInstant": since},
                                                         {"name": "_outputFormat", "valueString": "application/fhir+ndjson"}]}
    posted = _export(api, admin, body=body)
    assert list(posted) == ["Patient"] and [p["identifier"][0]["value"] for p in posted["Patient"]] == ["T1"]
    for params, words in [({"_outputFormat": "text/csv"}, "not offered"), ({"_since": "2030-03-01"}, "an instant with its zone"),
                          ({"_typeFilter": "Patient?active=true"}, "not supported here"), ({"patient": "Patient/1"}, "not supported here"),
                          ({"_colour": "red"}, "is not one of them")]:
        r = api.get("/fhir/$export", params=params, headers={**admin, "Prefer": "respond-async"})
        assert r.status_code == 400 and words in r.text, (params, r.text)
    bad = {"resourceType": "Parameters", "parameter": [{"name": "_type", "valueString": "Patient"}, {"name": "_elements", "valueString": "id"}]}
    r = api.post("/fhir/$export", json=bad, headers={**admin, "Prefer": "respond-async"})
    assert r.status_code == 400 and "_elements is not supported" in r.text
    r = api.post("/fhir/$export", json={"resourceType": "Parameters", "parameter": [{"name": "_type", "valueBanana": "x"}]},
                 headers={**admin, "Prefer": "respond-async"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["Parameters.parameter[0].valueBanana"]


# -- batch Bundles ---------------------------------------------------------------------------------------------------
def test_a_batch_bundle_answers_each_entry_and_a_collection_is_refused(api, token, clinic, session):
    admin = token("admin", "system/*.write")
    before = count(session, Patient)
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": new_patient(identifier=[{"system": fhir_map.MRN_SYSTEM, "value": "B1"}]), "request": {"method": "POST", "url": "Patient"}},
        {"resource": new_patient(gender="banana"), "request": {"method": "POST", "url": "Patient"}},
        {"resource": new_patient(name=[{"family": "Solo"}]), "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Basic", "code": {"text": "x"}}, "request": {"method": "POST", "url": "Basic"}},
        {"resource": new_patient(identifier=[{"system": fhir_map.MRN_SYSTEM, "value": "B2"}]), "request": {"method": "POST", "url": "Patient"}},
    ]}
    r = api.post("/fhir", json=batch, headers=admin)
    assert r.status_code == 200, r.text
    answer = r.json()
    validate(answer)
    assert answer["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in answer["entry"]]
    assert statuses == ["201 Created", "400 Bad Request", "400 Bad Request", "400 Bad Request", "201 Created"]
    assert answer["entry"][1]["response"]["outcome"]["issue"][0]["expression"] == ["Bundle.entry[1].resource.gender"]
    assert "family name and a given name" in answer["entry"][2]["response"]["outcome"]["issue"][0]["diagnostics"]
    assert count(session, Patient) == before + 2
    assert {p.mrn for p in session.exec(select(Patient).where(Patient.mrn.in_(["B1", "B2"])))} == {"B1", "B2"}
    assert session.exec(select(AuditLog.detail).where(AuditLog.action == "import")).one().endswith("2 applied, 3 refused")
    collection = {**batch, "type": "collection"}
    r = api.post("/fhir", json=collection, headers=admin)
    assert r.status_code == 400 and "A collection Bundle is not imported" in r.text
    assert count(session, Patient) == before + 2


def test_a_batch_entry_clashing_with_a_booking_is_refused_alone(session, clinic):
    appt = book(session, clinic, "09:00")
    clash = {"resourceType": "Appointment", "status": "booked", "appointmentType": {"text": "Treatment"},
             "start": appt.starts_at.isoformat(), "end": appt.ends_at.isoformat(),
             "participant": [{"actor": {"reference": f"Patient/{clinic.patients[1].id}"}, "status": "accepted"},
                             {"actor": {"reference": f"Practitioner/{appt.provider_id}"}, "status": "accepted"}]}
    free = {**clash, "start": at("11:00").isoformat(), "end": at("11:30").isoformat()}
    result = fhir_write.import_bundle(session, actor=clinic.admin, bundle={"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": clash, "request": {"method": "POST", "url": "Appointment"}},
        {"resource": free, "request": {"method": "POST", "url": "Appointment"}}]})
    assert [e["response"]["status"] for e in result["entry"]] == ["409 Conflict", "201 Created"]
    session.commit()  # the caller keeps what the batch applied; the clash was undone in its own savepoint
    assert count(session, Appointment) == 2


@pytest.mark.parametrize("kind", ["document", "message", "searchset", "history", None])
def test_bundles_that_are_not_transactions_or_batches_are_refused(session, clinic, kind):
    with pytest.raises(InvalidInput, match=r"transaction \(all or nothing\) or batch"):
        fhir_write.import_bundle(session, actor=clinic.admin, bundle={"resourceType": "Bundle", "type": kind, "entry": []})
