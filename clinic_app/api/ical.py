"""``GET /ical/{secret}.ics``: a clinician's private feed of their own schedule
(services/portal/calendar.py), for their calendar app to subscribe to. No session: the secret
in the address is the key (kept hashed; turned off or replaced, it answers 404). No patient
is named in it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clinic_app import db
from clinic_app.services.platform.errors import NotFound
from clinic_app.services.portal import calendar


class IcalFeedApi:
    def __init__(self, get_engine: Callable[[], Engine] = db.engine,
                 clock: Callable[[], dt.datetime] = db.utcnow) -> None:
        self.get_engine, self.clock = get_engine, clock

    async def feed(self, request: Request) -> Response:
        secret = request.path_params.get("secret", "")

        def work() -> bytes:
            with Session(self.get_engine(), expire_on_commit=False) as session:
                return calendar.feed(session, secret=secret, now=self.clock())

        try:
            data = await asyncio.to_thread(work)
        except NotFound as exc:
            return Response(str(exc), 404, media_type="text/plain")
        return Response(data, media_type="text/calendar; charset=utf-8", headers={
            "Content-Disposition": 'inline; filename="schedule.ics"', "Cache-Control": "private, no-store",
        })

    def routes(self) -> list[Route]:
        return [Route("/ical/{secret}.ics", self.feed, methods=["GET"])]
