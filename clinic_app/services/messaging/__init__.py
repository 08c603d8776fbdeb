"""Messages about a patient: between colleagues, and between the patient and the clinic."""
