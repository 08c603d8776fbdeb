"""The FHIR API on the app started the way `make run` starts it (one port)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest

from clinic_app.settings import PROJECT_ROOT
from tests.e2e.conftest import app_env

pytestmark = pytest.mark.e2e


def get(url: str, token: str | None = None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.headers.get("content-type"), json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("content-type"), json.loads(exc.read())


def test_metadata_and_a_patient_search_with_a_token(app_server):
    base, db = app_server
    status, kind, body = get(base + "/fhir/metadata")
    assert status == 200 and kind.startswith("application/fhir+json")
    assert body["resourceType"] == "CapabilityStatement" and body["fhirVersion"] == "4.0.1"

    status, _, body = get(base + "/fhir/Patient?name=a&_count=5")
    assert status == 401 and body["resourceType"] == "OperationOutcome"

    made = subprocess.run(
        [sys.executable, "-m", "clinic_app", "api-token", "create", "--username", "reception", "--scopes", "user/*.read", "--days", "1"],
        cwd=PROJECT_ROOT, env=app_env(db), capture_output=True, text=True, timeout=120, check=True,
    )
    token = made.stdout.strip().splitlines()[-1]
    status, _, bundle = get(base + "/fhir/Patient?name=a&_count=5", token)
    assert status == 200 and bundle["type"] == "searchset"
    assert bundle["total"] > 5 and len(bundle["entry"]) == 5  # the demo clinic's patients, paged
    assert bundle["entry"][0]["resource"]["resourceType"] == "Patient"
    following = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    assert following.startswith(base + "/fhir/Patient?") and "_offset=5" in following
    status, _, page2 = get(following, token)
    assert status == 200 and {e["resource"]["id"] for e in page2["entry"]}.isdisjoint(e["resource"]["id"] for e in bundle["entry"])
    # The pages still load: the API sits in front of Reflex without hiding it.
    with urllib.request.urlopen(base + "/login", timeout=10) as r:
        assert r.status == 200


def test_an_admin_creates_a_token_on_screen_uses_it_and_revokes_it(page, app_server):
    from playwright.sync_api import expect

    from tests.e2e.test_app import sign_in

    base, _ = app_server
    sign_in(page, base, "admin")
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    page.get_by_label("Username").fill("reception")
    page.get_by_label("Scopes").fill("user/Patient.read")
    page.get_by_label("Days valid").fill("400")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("alert")).to_contain_text("1 to 366 days")
    page.get_by_label("Days valid").fill("2")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("New token (shown once)")
    expect(secret).to_have_value(re.compile(r"^clk_"))
    token = secret.input_value()
    status, _, bundle = get(base + "/fhir/Patient?_count=1", token)
    assert status == 200 and bundle["total"] > 0
    assert get(base + "/fhir/Appointment", token)[0] == 403  # the scope covers Patient only
    page.get_by_role("button", name="I have copied it").click()
    expect(page.get_by_label("New token (shown once)")).to_have_count(0)
    revoke = page.get_by_role("button", name=re.compile(r"^Revoke token \d+ of reception$"))
    revoke.first.click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    assert get(base + "/fhir/Patient?_count=1", token)[0] == 401


def call(method: str, url: str, token: str | None = None, body: dict | None = None, headers: dict | None = None):
    """(status, content type, body bytes) of any request, errors included."""
    head = {"Authorization": f"Bearer {token}"} if token else {}
    head.update(headers or {})
    data = None
    if body is not None:
        data, head["Content-Type"] = json.dumps(body).encode(), "application/fhir+json"
    request = urllib.request.Request(url, data=data, method=method, headers=head)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_a_partners_edge_requests_are_answered_in_fhir_over_http(app_server):
    """The same edges as tests/api/test_fhir_edges.py, on the app as `make run` starts it (Reflex in front)."""
    base, db = app_server
    made = subprocess.run(
        [sys.executable, "-m", "clinic_app", "api-token", "create", "--username", "reception", "--scopes",
         "user/*.read user/Patient.write", "--days", "1"],
        cwd=PROJECT_ROOT, env=app_env(db), capture_output=True, text=True, timeout=120, check=True,
    )
    token = made.stdout.strip().splitlines()[-1]
    for value in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "le9999-12-31T23:59:59.999999Z"):
        status, headers, body = call("GET", base + "/fhir/Appointment?date=" + urllib.parse.quote(value), token)
        assert status == 200 and headers["content-type"].startswith("application/fhir+json"), (value, status, body[:200])
    for method, expected in (("GET", 400), ("DELETE", 405), ("PATCH", 405), ("FOO", 405)):
        status, headers, body = call(method, base + "/fhir", token)
        assert status == expected and headers["content-type"].startswith("application/fhir+json"), (method, status, body[:100])
        assert json.loads(body)["resourceType"] == "OperationOutcome"
    status, _, _ = call("GET", base + "/fhir/Patient?_count=1&_format=xml", token)
    assert status == 406
    status, _, _ = call("GET", base + "/fhir/Patient?_count=1", token, headers={"Accept": "application/fhir+xml"})
    assert status == 406
    got = call("GET", base + "/fhir/Patient?_count=1", token)
    head = call("HEAD", base + "/fhir/Patient?_count=1", token)
    assert head[0] == got[0] == 200 and head[2] == b"" and head[1]["content-length"] == got[1]["content-length"]
    status, _, body = call("POST", base + "/fhir/Patient", token, body={
        "resourceType": "Patient", "name": [{"family": "Edge", "given": ["Ed"]}], "birthDate": "1970-01-01", "gender": "banana"})
    assert status == 400 and json.loads(body)["issue"][0]["expression"] == ["Patient.gender"]
    status, _, body = call("POST", base + "/fhir/Patient/_search", token, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and json.loads(body)["type"] == "searchset"
