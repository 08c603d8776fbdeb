"""Intake forms and answers as FHIR R4: each saved form version is a Questionnaire (its id is
the version's row id; ``url`` + ``version`` name it), each visit's answers a
QuestionnaireResponse (services/portal/intake.py keeps both as JSON; this adds ids and meta).

Read by id, searched in search.py (KINDS): Questionnaire by url, name, status; responses by
patient, encounter, status. A clinician sees the responses of their own patients only."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from clinic_app.models import Appointment, IntakeForm, IntakeResponse
from clinic_app.services.interop.fhir.mapping import instant
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.permissions import CLINICIAN
from clinic_app.services.portal.intake import FORM_URL

__all__ = ["FORM_URL", "questionnaire_query", "questionnaire_resource", "response_query", "response_resource"]


def questionnaire_resource(row: IntakeForm) -> dict:
    """One form version as it was saved, with its id and meta.lastUpdated."""
    resource = json.loads(row.questionnaire)
    return {"resourceType": "Questionnaire", "id": str(row.id), "meta": {"lastUpdated": instant(row.created_at)},
            **{k: v for k, v in resource.items() if k != "resourceType"}}


def response_resource(session: Session, row: IntakeResponse) -> dict:
    """A visit's answers, pointing at the form version answered (``questionnaire`` = url|version)."""
    resource = json.loads(row.response)
    return {"resourceType": "QuestionnaireResponse", "id": str(row.id), "meta": {"lastUpdated": instant(row.updated_at)},
            **{k: v for k, v in resource.items() if k != "resourceType"}}


def questionnaire_query(actor: Actor):
    return select(IntakeForm)


def response_query(actor: Actor):
    query = select(IntakeResponse)
    if actor.role == CLINICIAN:  # their own patients only (minimum necessary)
        query = query.where(IntakeResponse.patient_id.in_(
            select(Appointment.patient_id).where(Appointment.provider_id == actor.provider_id)))
    return query
