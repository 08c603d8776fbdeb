"""Diagnosis and procedure codes: ICD-10-CM from the shipped CDC tables, procedure
codes from the clinic's own fee list (no CPT text is shipped)."""

from __future__ import annotations

import re
from functools import cache

import simple_icd_10_cm as icd
from sqlmodel import Session, select

from clinic_app.models import Fee
from clinic_app.services.platform.errors import InvalidInput

# A letter, two characters, then optionally a dot and up to four more (DOMAIN.md).
ICD10_RE = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
PROCEDURE_RE = re.compile(r"^([0-9]{4}[0-9A-Z]|[A-V][0-9]{4})$")


def normalise_icd10(text: str) -> str:
    """An ICD-10-CM code in its dotted form (M54.50); InvalidInput unless it is billable."""
    code = (text or "").strip().upper()
    if not ICD10_RE.match(code):
        raise InvalidInput(f"{text.strip()[:12]!r} is not an ICD-10-CM code (they look like M54.50).")
    if "." not in code and len(code) > 3:
        code = f"{code[:3]}.{code[3:]}"
    if not icd.is_valid_item(code):
        raise InvalidInput(f"{code} is not in the ICD-10-CM code set.")
    if not icd.is_leaf(code):
        raise InvalidInput(
            f"{code} is a category, not a billable code; choose a more specific code under it."
        )
    return code


def describe_icd10(code: str) -> str:
    """The CDC's description of an ICD-10-CM code ('' if unknown)."""
    try:
        return icd.get_description(code)
    except ValueError:
        return ""


@cache
def _billable_index() -> tuple[tuple[str, str, str, str], ...]:
    """(code, description, lower-case description, code without its dot) of every billable
    ICD-10-CM code (~75k)."""
    return tuple(
        (code, desc, desc.lower(), code.replace(".", ""))
        for code in icd.get_all_codes(True)
        if icd.is_leaf(code) and (desc := icd.get_description(code))
    )


def search_icd10(text: str, *, limit: int = 15) -> list[tuple[str, str]]:
    """Billable ICD-10-CM codes whose code starts with ``text`` or whose CDC description
    holds every word of it, shortest codes first. Offline: the shipped code set only."""
    query = (text or "").strip()
    if len(query) < 2:
        return []
    code_like = query.upper().replace(".", "")
    words = query.lower().split()
    first, rest = max(words, key=len), [w for w in words if w != max(words, key=len)]
    hits = [
        (code, desc) for code, desc, lower, bare in _billable_index()
        if bare.startswith(code_like) or (first in lower and all(w in lower for w in rest))
    ]
    hits.sort(key=lambda h: (not h[0].replace(".", "").startswith(code_like), len(h[0]), h[0]))
    return hits[:limit]


def fee_for(session: Session, text: str) -> Fee:
    """The clinic's active fee for a procedure code; InvalidInput if it bills no such code."""
    code = (text or "").strip().upper()
    if not PROCEDURE_RE.match(code):
        raise InvalidInput(f"{text.strip()[:12]!r} is not a procedure code (five characters, e.g. 97110).")
    fee = session.exec(select(Fee).where(Fee.code == code, Fee.active)).first()
    if fee is None:
        raise InvalidInput(f"{code} is not on the clinic's fee list; ask an admin to add it.")
    return fee


def npi_check_digit(first_nine: str) -> int:
    """The Luhn check digit of an NPI, computed over '80840' + its first nine digits."""
    digits = [int(c) for c in "80840" + first_nine]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # every second digit from the right, starting with the rightmost
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def npi_is_valid(npi: str) -> bool:
    """Whether ``npi`` is ten digits with a correct check digit (1234567893 is valid)."""
    return bool(re.fullmatch(r"[0-9]{10}", npi or "")) and npi_check_digit(npi[:9]) == int(npi[9])
