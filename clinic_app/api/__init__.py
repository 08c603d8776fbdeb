"""Machine interfaces mounted on the Reflex backend: the FHIR R4 REST API."""

from clinic_app.api.fhir import build_api

__all__ = ["build_api"]
