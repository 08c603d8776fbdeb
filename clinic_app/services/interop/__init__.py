"""Exchange with other systems: X12 (interop.x12), and in time FHIR and HL7 v2."""
