"""Finding patients from what someone types, and naming them: the readings of a typed text
(name prefix, date of birth, phone digits, MRN prefix) as indexed ranges, and an MRN in words.

No permission check and no audit row here: the desk's search (``patients.search``) and the
audit log's patient filter (``platform.audit.search``) each do their own.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import and_
from sqlmodel import Session, select

from clinic_app.models import Patient
from clinic_app.models.people import digits, search_key

MRN_PATTERN = re.compile(r"^[A-Z0-9-]{1,20}$")
# The highest letter or digit in every collation the app meets: "prefix" .. prefix+HIGH
# is a range the B-tree index answers (LIKE 'x%' is not indexable on both databases).
_HIGH = "z" * 80


def parse_date(text: str) -> dt.date | None:
    """A date as a date field sends it (YYYY-MM-DD) or as a person types it (MM/DD/YYYY,
    MM-DD-YYYY); None when the text is not one."""
    text = (text or "").strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def mrn_words(mrn: str) -> str:
    """"MRN P0000123" (not "MRN MRN100106" when the number carries the word already)."""
    return mrn if mrn.upper().startswith("MRN") else f"MRN {mrn}"


def _prefix(column, key: str):
    return and_(column >= key, column <= key + _HIGH)


def matching(session: Session, text: str, *, limit: int = 8, active_only: bool = True) -> list[Patient]:
    """The patients ``text`` names (the desk search's readings of it: name prefix, date of
    birth, phone digits, MRN prefix), without the permission check or the audit row: the
    callers (``search``, the audit log's patient filter) do those."""
    text = (text or "").strip()
    born = parse_date(text)
    conditions = []
    if born is not None:
        conditions.append(Patient.birth_date == born)
    else:
        number = digits(text)
        if len(number) >= 3 and re.fullmatch(r"[0-9 ()+.\-]+", text):
            conditions.append(_prefix(Patient.phone_digits, number))
        mrn = text.upper()
        if MRN_PATTERN.match(mrn):
            conditions.append(and_(Patient.mrn >= mrn, Patient.mrn <= mrn + "Z" * 20))
        words = [search_key(w) for w in re.split(r"[,\s]+", text) if search_key(w)]
        if len(words) == 1:
            conditions.append(_prefix(Patient.search_last, words[0]))
            conditions.append(_prefix(Patient.search_first, words[0]))
        elif len(words) >= 2:
            first_word, rest = words[0], "".join(words[1:])
            # "Smith, Jo" and "smith jo" mean last then first; "Jo Smith" first then last.
            conditions.append(and_(Patient.search_last == first_word, _prefix(Patient.search_first, rest)))
            if "," not in text:
                conditions.append(and_(Patient.search_first == first_word, _prefix(Patient.search_last, rest)))
            conditions.append(_prefix(Patient.search_last, first_word + rest))  # "de la cruz"
    # One indexed query per reading of the text, merged here: an OR of them all makes
    # PostgreSQL walk the name index in order and filter (hundreds of ms at 100,000).
    found: dict[int, Patient] = {}
    for condition in conditions:
        query = select(Patient).where(Patient.active, condition) if active_only else select(Patient).where(condition)
        query = query.order_by(Patient.search_last, Patient.search_first, Patient.id).limit(limit)
        for patient in session.exec(query):
            found.setdefault(patient.id, patient)
    return sorted(found.values(), key=lambda p: (p.search_last, p.search_first, p.id))[:limit]
