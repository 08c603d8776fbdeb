"""The patient's side: what patients do themselves (the portal, intake and consent, payments, calendar)."""
