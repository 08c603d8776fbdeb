"""X12 5010: the public reader (``reader``) every inbound file goes through."""
