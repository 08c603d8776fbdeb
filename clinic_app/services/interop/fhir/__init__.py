"""FHIR R4 4.0.1: resources in and out, validation, bulk export."""
