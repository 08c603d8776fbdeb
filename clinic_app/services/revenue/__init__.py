"""The revenue cycle: charges, claims (837P out), remittances and acknowledgements in, eligibility, ledger, statements."""
