"""The billing page's reports over a range a biller chooses: denials by reason and payments
by day, week or month, with CSV of that range (built on services/revenue/revenue_reports.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlmodel import Session

from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import revenue_reports

MAX_DAYS = 3 * 366  # three years: enough for any audit look-back, small enough to stay quick
GRAINS = {"day": "Day", "week": "Week (from Monday)", "month": "Month"}


class RangeProblems(InvalidInput):
    """What is wrong with the range, per field ("from", "to", "grain"), all at once."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__(" ".join(problems.values()))


@dataclass(frozen=True)
class ReportRange:
    start: dt.date
    end: dt.date
    grain: str

    @property
    def words(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def _day(text: str, what: str) -> tuple[dt.date | None, str]:
    text = (text or "").strip()
    # The page's date pickers send ISO dates; the words name no format the picker does not show.
    if not text:
        return None, f"Choose the {what} day of the range."
    try:
        return dt.date.fromisoformat(text), ""
    except ValueError:
        return None, f"The {what} day {text[:20]!r} is not a date; pick it from the calendar."


def parse_range(start: str, end: str, grain: str = "month") -> ReportRange:
    """The range as typed (ISO dates, both days included), or RangeProblems naming every problem."""
    problems: dict[str, str] = {}
    first, why = _day(start, "first")
    if why:
        problems["from"] = why
    last, why = _day(end, "last")
    if why:
        problems["to"] = why
    if grain not in GRAINS:
        problems["grain"] = "Choose day, week or month."
    if first and last:
        if last < first:
            problems["to"] = f"The last day {last.isoformat()} is before the first {first.isoformat()}."
        elif (last - first).days + 1 > MAX_DAYS:
            problems["to"] = f"The range is {(last - first).days + 1} days; choose at most {MAX_DAYS} days."
    if problems:
        raise RangeProblems(problems)
    return ReportRange(start=first, end=last, grain=grain)


def _bounds(chosen: ReportRange, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC: local midnight of the first day to local midnight after the last."""
    zone = ZoneInfo(tz)
    low = dt.datetime.combine(chosen.start, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    high = dt.datetime.combine(chosen.end + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    return low, high


def range_reports(session: Session, *, actor: Actor, chosen: ReportRange, tz: str) -> dict:
    """Denials by reason (by the time of the payer's answer) and payments by period, days in ``tz``."""
    require(actor.role, "billing.reports")
    low, high = _bounds(chosen, tz)
    denial = revenue_reports.denial_rate(session, actor=actor, start=low, end=high)
    payments = revenue_reports.payments_by_period(session, actor=actor, start=chosen.start, end=chosen.end,
                                                  grain=chosen.grain, tz=tz)
    return {"denials": denial, "payments": payments}


def denials_csv(rows: list[dict]) -> str:
    """Denials by reason as CSV (share as a percentage, rounded as on screen)."""
    return revenue_reports.to_csv(
        [{**r, "share_of_denials_percent": round(r["share_of_denials"] * 100)} for r in rows],
        ["reason", "words", "claims", "share_of_denials_percent"],
    )
