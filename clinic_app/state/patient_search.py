"""The patient search box in the header of every desk page.

Type-ahead without a debounce: every keystroke is one small event (the query is an indexed
range scan, ~5 ms even at 100,000 patients), and Reflex answers a client's events in order,
so the last answer shown is the one for the text in the box. The input is uncontrolled
(no ``value`` bound), so typing is never slowed or rewritten by a round trip; ``query`` is
the text the shown results answer (the page marks the list with it: ``data-for``).
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app import routes
from clinic_app.services.frontdesk import patients
from clinic_app.services.frontdesk.patient_lookup import mrn_words
from clinic_app.services.platform.errors import ClinicError
from clinic_app.state.auth import current_actor
from clinic_app.state.common import in_db

MIN_CHARS = 2


@dataclasses.dataclass
class SearchHit:
    """One patient found: the words shown and where a click goes."""

    name: str
    details: str
    href: str
    label: str  # the link's accessible name


class PatientSearchState(rx.State):
    """What the header search shows: the results for ``query``, or why there are none."""

    query: str = ""
    hits: list[SearchHit] = []
    error: str = ""

    @rx.var
    def answered(self) -> bool:
        """A search long enough to run has answered (results or "no patient matches")."""
        return len(self.query.strip()) >= MIN_CHARS

    @rx.event
    async def search(self, text: str):
        text = str(text)[:80]
        if len(text.strip()) < MIN_CHARS:
            self.query, self.hits, self.error = text, [], ""
            return
        try:
            actor = await current_actor(self, "patient.search")
            found = await in_db(lambda s: patients.search(s, actor=actor, text=text))
        except ClinicError as exc:
            self.query, self.hits, self.error = text, [], str(exc)
            return
        self.query, self.error = text, ""
        self.hits = [
            SearchHit(
                name=f"{p.last_name}, {p.first_name}",
                details=" · ".join(x for x in (f"born {p.birth_date.isoformat()}", mrn_words(p.mrn), p.phone) if x),
                href=routes.patient_profile(p.id),
                label=f"Open the profile of {p.last_name}, {p.first_name} (MRN {p.mrn}, born {p.birth_date.isoformat()})",
            )
            for p in found
        ]

    @rx.event
    def clear(self):
        """A result was opened (or Escape pressed): the list closes."""
        self.query, self.hits, self.error = "", [], ""
