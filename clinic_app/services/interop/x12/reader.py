"""Reading X12 5010 files: the interchange envelope, its segments and control numbers.

One reader for every X12 file the clinic takes in (835 remittances, 999 and 277CA
acknowledgements, 271 eligibility answers): ``x12_text`` checks the bytes, ``segments`` splits
the file by the delimiters its ISA declares, ``check_envelope`` checks every count and control
number (ISA/IEA, GS/GE, ST/SE) and the implementation guide named in GS08, and returns the one
transaction's segments. Every problem raises ``refused`` (``X12Refused`` unless a caller names
its own kind) with words saying where; nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import re

from clinic_app.services.platform.errors import ClinicError

MAX_BYTES = 5 * 1024 * 1024  # a day's remittance from one payer is far smaller
MAX_SEGMENTS = 200_000


class X12Refused(ClinicError):
    """An X12 file that cannot be read; the message says where."""


def segments(text: str, refused: type[ClinicError] = X12Refused) -> list[list[str]]:
    """The file's segments, each a list of elements (components joined by ':')."""
    text = text.lstrip("\ufeff \r\n\t")
    if not text.startswith("ISA") or len(text) < 106:
        raise refused("This is not an X12 file: it does not start with a complete ISA segment.")
    element, component, terminator = text[3], text[104], text[105]
    if len({element, component, terminator}) != 3 or terminator.isalnum() or element.isalnum():
        raise refused("The ISA segment's delimiters are not valid; the file is damaged.")
    rows = [s.strip("\r\n ") for s in text.split(terminator)]
    if rows and rows[-1] == "":
        rows.pop()
    if len(rows) > MAX_SEGMENTS:
        raise refused(f"The file has more than {MAX_SEGMENTS:,} segments; split it.")
    segments = [row.split(element) for row in rows]
    if any(not s[0] for s in segments):
        raise refused("The file has an empty segment; it is damaged.")
    return [[e.replace(component, ":") for e in s] for s in segments]


def el(seg: list[str], i: int) -> str:
    """Element ``i`` of a segment ('' when the segment is shorter)."""
    return seg[i] if len(seg) > i else ""


def d8(text: str, where: str, refused: type[ClinicError] | None = None) -> dt.date:
    """A CCYYMMDD date (X12 DT, D8) that exists, 1900-2199; ``refused`` (X12Refused) otherwise."""
    error = refused or X12Refused
    if not re.fullmatch(r"[0-9]{8}", text or ""):
        raise error(f"{where}: {text[:20]!r} is not a date written CCYYMMDD.")
    try:
        day = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise error(f"{where}: {text} is not a date that exists (CCYYMMDD).") from None
    if not 1900 <= day.year < 2200:
        raise error(f"{where}: {text} is out of range (1900 to 2199).")
    return day


def check_version(segments: list[list[str]], expected: str, words: str, refused: type[ClinicError] = X12Refused) -> None:
    """GS08 (and ST03) name the implementation guide: a 4010 file is refused by name, not read as 5010."""
    isa, gs = segments[0], next((s for s in segments if s[0] == "GS"), [])
    version = el(gs, 8)
    if version != expected or el(isa, 12) != "00501":
        old = version.startswith("00401") or el(isa, 12) == "00401"
        raise refused(
            f"This is {'a 4010' if old else 'an'} {words} (GS08 {version[:12] or 'empty'}, ISA12 {el(isa, 12)[:5]}); "
            f"only 5010 files ({expected}) are read here. Ask the sender for the 5010 version."
        )


def check_envelope(
    segments: list[list[str]], kind: str = "835", words: str = "an 835 remittance", plural: str = "remittances",
    version: str | None = None, refused: type[ClinicError] = X12Refused,
) -> list[list[str]]:
    """The one transaction's segments (ST..SE), after checking every count and control number
    (and, given ``version``, that GS08 names that implementation guide)."""
    if segments[0][0] != "ISA" or segments[-1][0] != "IEA":
        raise refused("The file is truncated: it does not end with an IEA segment.")
    if version is not None:
        check_version(segments, version, words.split(" ", 1)[-1], refused)
    isa, iea = segments[0], segments[-1]
    if el(iea, 2) != el(isa, 13):
        raise refused(f"IEA control number {el(iea, 2)} does not match ISA {el(isa, 13)}; the file is damaged.")
    groups = [i for i, s in enumerate(segments) if s[0] == "GS"]
    if el(iea, 1) != str(len(groups)):
        raise refused(f"IEA counts {el(iea, 1)} groups but the file has {len(groups)}.")
    transactions: list[list[list[str]]] = []
    i = 1
    while i < len(segments) - 1:
        gs = segments[i]
        if gs[0] != "GS":
            raise refused(f"Segment {i + 1} ({gs[0]}) is outside a GS group.")
        count = 0
        i += 1
        while i < len(segments) - 1 and segments[i][0] == "ST":
            st, start = segments[i], i
            if el(st, 1) != kind:
                raise refused(f"Transaction {el(st, 2)} is a {el(st, 1)}, not {words}.")
            while i < len(segments) - 1 and segments[i][0] not in ("SE", "GE", "IEA"):
                i += 1
            se = segments[i]
            if se[0] != "SE":
                raise refused(f"Transaction {el(st, 2)} is truncated: no SE segment.")
            if el(se, 1) != str(i - start + 1):
                raise refused(
                    f"Transaction {el(st, 2)}: SE says {el(se, 1)} segments but there are {i - start + 1}; the file is damaged."
                )
            if el(se, 2) != el(st, 2):
                raise refused(f"SE control number {el(se, 2)} does not match ST {el(st, 2)}.")
            transactions.append(segments[start:i + 1])
            count += 1
            i += 1
        ge = segments[i]
        if ge[0] != "GE":
            raise refused("A GS group is truncated: no GE segment.")
        if el(ge, 1) != str(count) or el(ge, 2) != el(gs, 6):
            raise refused(f"GE of group {el(gs, 6)} does not match its transactions or control number.")
        i += 1
    if len(transactions) != 1:
        raise refused(f"The file holds {len(transactions)} {plural}; import files with exactly one.")
    return transactions[0]


def x12_text(text: str | bytes, kind: str, refused: type[ClinicError], max_bytes: int = MAX_BYTES) -> tuple[bytes, str]:
    """The file's bytes and ASCII text, refusing files over ``max_bytes`` (5 MB) or with non-ASCII bytes."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > max_bytes:
        raise refused(f"The file is {len(raw) / 1_048_576:.1f} MB; {kind} files over {max_bytes / 1_048_576:g} MB are refused.")
    try:
        return raw, raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise refused("The file is not plain X12 text (it holds non-ASCII bytes).") from exc
