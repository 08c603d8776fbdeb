"""Hypothesis strategies shared by the parsers' tests: instants at the limits of Python's datetime.

Every interface reads times a partner writes: FHIR instants and search dates, HL7 v2 TS
(AIS-4, PID-7), X12 dates (BPR16, DTM). A time near year 1 or year 9999, or with an offset
of up to 14 hours, must be answered in the interface's own protocol (a FHIR OperationOutcome,
an HL7 AE/AR, an X12 refusal), never with an OverflowError.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

# The values the issue reports, in each protocol's spelling.
FHIR_LIMITS = ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999999Z",
               "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00", "0001-01-01", "9999-12-31", "9999-12", "9999", "0001")
HL7_LIMITS = ("99991231235959", "000101010000+1400", "000101010000+9999", "99991231235959-1400", "00010101",
              "99991231", "20300312100000+2400", "20300312100000-9999")
X12_BAD_DATES = ("20261399", "00000000", "20260230", "99999999", "2026013", "2026-01-31")

_near_limits = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(1, 1, 2, 23, 59, 59)),
    st.datetimes(min_value=dt.datetime(9999, 12, 30), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999)),
    st.datetimes(),
)
_offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: dt.timezone(dt.timedelta(minutes=minutes)))


def limit_instants() -> st.SearchStrategy[dt.datetime]:
    """Aware datetimes near year 1 and year 9999 (and anywhere), with offsets of up to +-14:00."""
    return st.builds(lambda moment, zone: moment.replace(tzinfo=zone), _near_limits, _offsets)


def fhir_instant(moment: dt.datetime) -> str:
    """An R4 instant (always four-digit years, Z for UTC)."""
    text = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    offset = moment.utcoffset() or dt.timedelta(0)
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds() // 60)
    return text + f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def hl7_ts(moment: dt.datetime) -> str:
    """An HL7 v2 TS: YYYYMMDDHHMMSS and the offset +/-HHMM."""
    offset = moment.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return (f"{moment.year:04d}{moment:%m%d%H%M%S}"
            f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}")


def fhir_limit_texts() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(FHIR_LIMITS), limit_instants().map(fhir_instant))


def hl7_limit_texts() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(HL7_LIMITS), limit_instants().map(hl7_ts))


def x12_dates() -> st.SearchStrategy[str]:
    """CCYYMMDD dates at the limits (0001..9999) and the damaged ones partners send."""
    return st.one_of(st.sampled_from(X12_BAD_DATES), limit_instants().map(lambda m: f"{m.year:04d}{m:%m%d}"))
