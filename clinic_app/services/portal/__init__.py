"""The patient's side: what patients do themselves (intake, and the portal's other parts)."""
