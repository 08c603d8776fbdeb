"""FHIR R4 Slot search over the same open times the portal offers (booking.location_open_times).

``GET /fhir/Slot?schedule=Schedule/<provider id>&start=ge2030-03-12&start=lt2030-03-19&status=free``
answers a searchset Bundle of free Slots: computed, never stored, from the provider's working
hours, time off, booked visits and the location's rooms. A Schedule's id is its provider's
(Practitioner) id. Parameters:

- ``schedule`` (required): ``Schedule/<id>`` or ``<id>``; commas OR several.
- ``start``: ``ge``/``gt`` and ``lt``/``le`` prefixes with a date or a dateTime (default: from
  now for 7 days; at most 31 days).
- ``status``: ``free`` only (busy times are visits: search Appointment).
- ``service-type``: an appointment type id (its length is the slot's); default: the first type
  the provider's location offers online, else the first type in use.
- ``_count``: at most 500 Slots (default 100).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from clinic_app.models import AppointmentType, Location, Provider
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local_day
from clinic_app.services.platform.errors import InvalidInput
from clinic_app.services.platform.permissions import require
from clinic_app.services.portal.booking import ids, location_open_times, rules_for

MAX_DAYS = 31
MAX_COUNT = 500
TYPE_SYSTEM = "urn:clinic:appointment-type"
PARAMS = ("schedule", "start", "status", "service-type", "_count")


def _instant(text: str, zone: ZoneInfo) -> dt.datetime:
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(0), tzinfo=zone).astimezone(dt.UTC)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"start {text[:40]!r} is not a FHIR date or dateTime (2030-03-12 or 2030-03-12T09:00:00Z).") from exc
    if value.tzinfo is None:
        raise InvalidInput("A start with a time needs a time zone (Z or +hh:mm).")
    return value.astimezone(dt.UTC)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def search(session: Session, *, actor: Actor, params: list[tuple[str, str]], base_url: str,
           now: dt.datetime) -> dict:
    """A searchset Bundle of free Slots (see the module's docstring)."""
    require(actor.role, "fhir.schedule.read")
    schedules: list[int] = []
    starts: list[str] = []
    type_id, count = None, 100
    for name, value in params:
        value = (value or "").strip()
        if name not in PARAMS:
            raise InvalidInput(f"Slot cannot be searched by {name[:40]!r}; use one of: {', '.join(PARAMS)}.")
        if name == "schedule":
            for part in value.split(","):
                ident = part.strip().removeprefix("Schedule/")
                if not ident.isdigit():
                    raise InvalidInput("schedule is Schedule/<id>, the provider's id.")
                schedules.append(int(ident))
        elif name == "start":
            starts.append(value)
        elif name == "status" and value != "free":
            raise InvalidInput("Only free slots are searched here (status=free); booked times are Appointments.")
        elif name == "service-type":
            code = value.rsplit("|", 1)[-1]
            if not code.isdigit():
                raise InvalidInput("service-type is an appointment type id (urn:clinic:appointment-type|<id>).")
            type_id = int(code)
        elif name == "_count":
            if not value.isdigit():
                raise InvalidInput("_count is a whole number.")
            count = min(int(value), MAX_COUNT)
    if not schedules:
        raise InvalidInput("Name the schedule: schedule=Schedule/<provider id>.")
    providers = list(session.exec(select(Provider).where(Provider.id.in_(schedules), Provider.active.is_(True))))
    entries: list[dict] = []
    for provider in sorted(providers, key=lambda p: p.id):
        location = session.get(Location, provider.location_id)
        zone = ZoneInfo(location.timezone)
        lower, upper = now, None
        for value in starts:
            prefix, text = (value[:2], value[2:]) if value[:2] in ("ge", "gt", "le", "lt", "eq") else ("eq", value)
            at = _instant(text, zone)
            if prefix in ("ge", "gt"):
                lower = max(lower, at)
            elif prefix in ("le", "lt"):
                upper = at if upper is None else min(upper, at)
            else:
                raise InvalidInput("start takes ge, gt, le or lt (e.g. start=ge2030-03-12&start=lt2030-03-19).")
        upper = upper or lower + dt.timedelta(days=7)
        if upper - lower > dt.timedelta(days=MAX_DAYS):
            raise InvalidInput(f"Search at most {MAX_DAYS} days of slots at a time.")
        kind = _kind(session, location, type_id)
        if kind is None or upper <= lower:
            continue
        first = local_day(lower, location.timezone)
        days = (local_day(upper, location.timezone) - first).days + 1
        latest = upper - dt.timedelta(seconds=1)
        found = location_open_times(session, location=location, provider_ids=[provider.id],
                                    minutes=kind.duration_minutes, first_day=first, days=days, earliest=lower,
                                    latest=latest)
        for day in sorted(d for (_p, d) in found):
            for start in found[(provider.id, day)]:
                end = start + dt.timedelta(minutes=kind.duration_minutes)
                ident = f"{provider.id}-{kind.id}-{start:%Y%m%d%H%M}"
                entries.append({
                    "fullUrl": f"{base_url}/Slot/{ident}",
                    "resource": {
                        "resourceType": "Slot", "id": ident,
                        "serviceType": [{"coding": [{"system": TYPE_SYSTEM, "code": str(kind.id)}], "text": kind.name}],
                        "schedule": {"reference": f"Schedule/{provider.id}", "display": provider.name},
                        "status": "free", "start": _iso(start), "end": _iso(end),
                    },
                    "search": {"mode": "match"},
                })
    total = len(entries)
    return {"resourceType": "Bundle", "type": "searchset", "total": total,
            "link": [{"relation": "self", "url": f"{base_url}/Slot"}], "entry": entries[:count]}


def _kind(session: Session, location: Location, type_id: int | None) -> AppointmentType | None:
    if type_id is not None:
        kind = session.get(AppointmentType, type_id)
        if kind is None or not kind.active:
            raise InvalidInput("service-type names no appointment type in use.")
        return kind
    offered = sorted(ids(rules_for(session, location.id).type_ids))
    if offered:
        return session.get(AppointmentType, offered[0])
    return session.exec(select(AppointmentType).where(AppointmentType.active.is_(True)).order_by(AppointmentType.id)).first()
