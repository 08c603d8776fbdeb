"""Units for timed procedure codes from the minutes spent (plain arithmetic, no database).

Two rules, chosen per clinic for now (``settings.TIMED_UNIT_RULE``; per payer later):

- ``cms``, the CMS 8-minute rule (Medicare Claims Processing Manual, ch. 5, 20.2): add
  the minutes of all timed codes of the visit; units = total // 15, plus one if the
  remainder is 8 or more (8-22 min = 1 unit, 23-37 = 2, 38-52 = 3, 53-67 = 4, 68-82 = 5).
  Each code first gets its whole 15-minute units; the units left over go to the codes
  with the most minutes left over (CMS's own example: 33 min 97110 + 7 min 97112 =
  40 min = 3 units, billed as 2 x 97110 and 1 x 97112).
- ``per_code``, the "substantial portion" rule many commercial payers use: each code on
  its own, units = minutes // 15 plus one if its remainder is 8 or more, so a code needs
  at least 8 minutes for its first unit.
"""

from __future__ import annotations

RULES = {
    "cms": "CMS 8-minute rule",
    "per_code": "substantial-portion rule (per code)",
}


def units_for(minutes: int) -> int:
    """Units that ``minutes`` of timed service support on their own (the 8-minute threshold)."""
    whole, rest = divmod(max(minutes, 0), 15)
    return whole + (1 if rest >= 8 else 0)


def allocate(minutes_by_code: dict[str, int], rule: str = "cms") -> dict[str, int]:
    """Billable units per timed code from the minutes spent on each (codes may get 0)."""
    if rule not in RULES:
        raise ValueError(f"unknown timed-unit rule {rule!r}")
    if rule == "per_code":
        return {code: units_for(m) for code, m in minutes_by_code.items()}
    total_units = units_for(sum(minutes_by_code.values()))
    units = {code: m // 15 for code, m in minutes_by_code.items()}
    left = total_units - sum(units.values())
    # Most minutes left over first; ties go to the code with more minutes, then by code.
    order = sorted(minutes_by_code, key=lambda c: (-(minutes_by_code[c] % 15), -minutes_by_code[c], c))
    for code in order[:left]:
        units[code] += 1
    return units
