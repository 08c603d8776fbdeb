"""The patient portal's services: patients' own accounts and sessions (accounts), online
booking against real availability (booking), the day-of check-in link (checkin).

Every function that reads or changes a patient's data takes the signed-in ``Me`` (accounts.Me)
and only ever reaches that patient's own rows: another patient's id gets NotFound. None of
them commits: the caller (a portal screen's ``in_db``, the API's ``session_scope``) owns the
transaction.
"""
