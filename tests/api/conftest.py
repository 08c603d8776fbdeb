"""The FHIR API's own routes (clinic_app.api.build_api) on the test databases."""

from __future__ import annotations

import importlib

import pytest
from fhir.resources.R4B import get_fhir_model_class
from starlette.testclient import TestClient

from clinic_app.api import build_api
from clinic_app.services.charting import charting
from clinic_app.services.platform import api_tokens
from tests.services.helpers import charted_note, now_at

ALL_READ = "user/*.read"
ALL = "user/*.read user/*.write"


def validate(resource: dict) -> None:
    """Check a resource against FHIR R4 twice: fhirclient's models, generated from FHIR 4.0.1 (strict:
    unknown elements, wrong types and missing required elements raise), and fhir.resources' R4B
    (4.3) pydantic models, which also check value formats (dates, codes, ids)."""
    kind = resource["resourceType"]
    module = importlib.import_module(f"fhirclient.models.{kind.lower()}")
    getattr(module, kind)(resource, strict=True)
    get_fhir_model_class(kind).model_validate(resource)


@pytest.fixture
def api(engine, tmp_path):
    """A client of the FHIR routes, bound to this test's database."""
    with TestClient(build_api(lambda: engine, export_dir=tmp_path / "exports", clock=lambda: now_at("07:00")), base_url="http://clinic.test") as client:
        yield client


@pytest.fixture
def token(session, clinic):
    """token(username, scopes) -> Authorization headers for a fresh token."""

    def make(username: str, scopes: str = ALL, days: int = 30) -> dict:
        _, secret = api_tokens.create_token(session, actor=clinic.admin, username=username, scopes=scopes, days=days)
        session.commit()  # the fixture is the caller: services leave the commit to it
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.fixture
def signed_visit(session, clinic):
    """A visit of provider 0 with Cara Diaz, signed: a note, a diagnosis and two charge units."""
    appt, note = charted_note(session, clinic)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id, now=now_at("09:40"))
    session.commit()
    return appt, note
