"""Clinic app: practice management and health record on one database."""
