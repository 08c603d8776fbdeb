"""The one X12 reader every inbound file goes through (services/interop/x12/reader.py)."""

from __future__ import annotations

import pytest

from clinic_app.services.interop.x12 import reader
from clinic_app.services.interop.x12.reader import X12Refused
from clinic_app.services.revenue import acks, eligibility, era
from tests.services.x12_999 import functional_ack


def test_segments_follow_the_delimiters_the_isa_declares():
    text = functional_ack("7", accepted=True).replace("*", "|").replace("~", "!").replace("^", "%")
    rows = reader.segments(text)
    assert [r[0] for r in rows][:3] == ["ISA", "GS", "ST"]
    assert reader.el(rows[2], 1) == "999" and reader.el(rows[2], 9) == ""
    transaction = reader.check_envelope(rows, kind="999", words="a 999 acknowledgement", plural="acknowledgements")
    assert transaction[0][0] == "ST" and transaction[-1][0] == "SE"


@pytest.mark.parametrize(("damage", "words"), [
    (lambda t: t.replace("SE*6*0001", "SE*5*0001"), "SE says 5 segments but there are 6"),
    (lambda t: t.replace("IEA*1*000000401", "IEA*1*000000402"), "IEA control number 000000402 does not match"),
    (lambda t: t.rsplit("GE*", 1)[0], "truncated"),
    (lambda t: "GS*" + t, "does not start with a complete ISA"),
])
def test_a_damaged_envelope_is_refused_in_words(damage, words):
    text = damage(functional_ack("7", accepted=True))
    with pytest.raises(X12Refused, match=words):
        reader.check_envelope(reader.segments(text), kind="999", words="a 999", plural="acknowledgements")


def test_each_file_kind_refuses_with_its_own_error_and_the_same_words():
    truncated = functional_ack("7", accepted=True).rsplit("IEA", 1)[0]
    for refuse, kind in ((lambda: era.parse(truncated), era.RemittanceRefused),
                         (lambda: acks.parse_999(truncated), acks.AcknowledgementRefused),
                         (lambda: eligibility.read_271(truncated), eligibility.EligibilityRefused)):
        with pytest.raises(kind, match="does not end with an IEA segment"):
            refuse()


def test_x12_text_refuses_big_and_non_ascii_files_with_the_callers_error():
    with pytest.raises(era.RemittanceRefused, match="remittance files over 1 MB are refused"):
        reader.x12_text(b"ISA" + b"0" * 1_100_000, "remittance", era.RemittanceRefused, max_bytes=1_048_576)
    with pytest.raises(X12Refused, match="non-ASCII"):
        reader.x12_text("ISA*é".encode(), "remittance", X12Refused)
