"""Files a biller receives, read from the billing page: 835 remittances, 999 and 277CA
acknowledgements, 271 eligibility answers.

Each goes through the same service the command line uses (era.post, acks.import_ack,
eligibility.import_271); the caller runs ``read_file`` in one transaction
(``db.one_transaction``), so a refused file changes nothing. The answer is in words, for
the message beside the upload.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlmodel import Session

from clinic_app.models import Coverage, Payer
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.platform.money import dollars
from clinic_app.services.revenue import acks, eligibility, era

KINDS = {"835": "remittance (835)", "999": "acknowledgement (999)", "277": "acknowledgement (277CA)",
         "271": "eligibility answer (271)"}
_ST = re.compile(r"(?:^|[~\n\r])\s*ST(.)(\d{3})")


class FileRefused(ClinicError):
    """The file could not be read; nothing was changed."""


@dataclass(frozen=True)
class FileRead:
    kind: str  # "835", "999", "277CA" or "271"
    words: str
    claims: int = 0
    paid_cents: int = 0




def kind_of(data: bytes) -> str:
    """The transaction set the file holds (its first ST01), or FileRefused saying what is wrong."""
    text = data[:4096].decode("ascii", errors="replace")
    if not text.lstrip().startswith("ISA"):
        raise FileRefused("This is not an X12 file (it does not start with ISA); nothing was changed.")
    found = _ST.search(text)
    if found is None:
        raise FileRefused("The file holds no transaction (no ST segment); nothing was changed.")
    kind = found.group(2)
    if kind not in KINDS:
        raise FileRefused(
            f"The file is an X12 {kind}; the billing page reads 835, 999, 277CA and 271 files. Nothing was changed."
        )
    return kind


def _nothing(message: str) -> str:
    if re.search(r"nothing (was|is) (changed|posted|imported|read)", message, re.IGNORECASE):
        return message
    return f"{message} Nothing was changed."


def read_file(session: Session, *, actor: Actor, data: bytes, name: str, tz: str = "UTC",
              now: dt.datetime | None = None) -> FileRead:
    """Read one file into the claims, ledger or coverages; FileRefused (nothing changed) if it cannot be."""
    name = (name or "the file")[:80]
    try:
        if len(data) > era.MAX_BYTES:
            raise FileRefused(f"{name} is {len(data) / 1_048_576:.1f} MB; files over {era.MAX_BYTES // 1_048_576} MB are refused.")
        kind = kind_of(data)
        if kind == "835":
            summary = era.post(session, actor=actor, text=data, now=now)
            plb = summary.get("provider_adjustments_cents", 0)
            words = (
                f"Posted {name}: {summary['claims']} claims, {dollars(summary['paid_cents'])} paid, "
                f"{summary['denied']} denied (see the denial worklist)"
                + (f"; provider-level adjustments {'withheld' if plb > 0 else 'added'} {dollars(abs(plb))}" if plb else "")
                + "."
            )
            return FileRead(kind="835", words=words, claims=summary["claims"], paid_cents=summary["paid_cents"])
        if kind in ("999", "277"):
            summary = acks.import_ack(session, actor=actor, text=data, now=now)
            unchanged = "; ".join(summary["unchanged"][:5])
            if summary["kind"] == "999":
                words = (f"Read {name} (999): 837P file {summary['file']} {summary['verdict']}; "
                         f"{summary['rejected']} claims rejected.")
            else:
                words = (f"Read {name} (277CA): {summary['accepted']} claims accepted, {summary['rejected']} rejected "
                         "(see the denial worklist).")
            return FileRead(kind=summary["kind"], words=words + (f" Unchanged: {unchanged}." if unchanged else ""))
        if len(data) > eligibility.MAX_BYTES:
            raise FileRefused(f"{name} is over {eligibility.MAX_BYTES // 1024} KB; 271 files that big are refused.")
        answers = eligibility.import_271(session, actor=actor, raw=data, now=now)
        parts = []
        for answer in answers:
            coverage = session.get(Coverage, answer["coverage_id"])
            payer = session.get(Payer, coverage.payer_id)
            parts.append(f"{payer.name}, member {coverage.member_id}: {eligibility.eligibility_words(coverage, tz)}")
        return FileRead(kind="271", words=f"Read {name} (271): " + "; ".join(parts) + ".")
    except ClinicError as exc:
        raise FileRefused(f"{name} was refused: {_nothing(str(exc))}") from exc
