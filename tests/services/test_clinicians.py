"""Clinicians' charting set-up: assistants (CQ/CO) and supervision (co-signature)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from clinic_app.models import Appointment, ClinicianSupervision, Provider
from clinic_app.services.charting import charting, clinicians
from clinic_app.services.platform.errors import InvalidInput, NotAllowed
from tests.services.helpers import charted_note


def _supervisor(session, clinic, provider=0):
    row = session.exec(select(ClinicianSupervision).where(ClinicianSupervision.provider_id == clinic.providers[provider].id)).first()
    return row.supervisor_provider_id if row else None


def test_an_admin_marks_an_assistant_and_their_next_charges_carry_cq(session, clinic):
    ann, bo = clinic.providers
    clinicians.set_assistant_kind(session, actor=clinic.admin, provider_id=ann.id, kind="pta")
    roster = {r.name: r for r in clinicians.roster(session, actor=clinic.admin)}
    assert (roster["Ann Able, PT"].assistant_kind, roster["Bo Baker, PT"].assistant_kind) == ("PTA", "")
    _, note = charted_note(session, clinic)
    charges = charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    assert [c.modifiers for c in charges] == ["CQ"]
    clinicians.set_assistant_kind(session, actor=clinic.admin, provider_id=ann.id, kind="OTA")
    assert charting.assistant_modifier(session, provider_id=ann.id) == "CO"
    with pytest.raises(InvalidInput, match="Choose PTA, OTA, or not an assistant"):
        clinicians.set_assistant_kind(session, actor=clinic.admin, provider_id=ann.id, kind="SPT")
    with pytest.raises(NotAllowed):
        clinicians.set_assistant_kind(session, actor=clinic.clinician, provider_id=bo.id, kind="PTA")
    assert session.get(Provider, bo.id).assistant_kind == ""


def test_supervision_is_set_checked_and_not_changed_under_a_note_awaiting_co_signature(session, clinic):
    ann, bo = clinic.providers
    clinicians.set_supervisor(session, actor=clinic.admin, provider_id=ann.id, supervisor_provider_id=bo.id)
    assert _supervisor(session, clinic) == bo.id
    assert clinicians.roster(session, actor=clinic.admin)[0].supervisor_name == "Bo Baker, PT"
    for provider, supervisor, message in (
        (ann.id, ann.id, "cannot supervise themselves"),
        (bo.id, ann.id, "Ann Able, PT is supervised themselves"),
    ):
        with pytest.raises(InvalidInput, match=message):
            clinicians.set_supervisor(session, actor=clinic.admin, provider_id=provider, supervisor_provider_id=supervisor)
    # Ann signs; her note waits for Bo. Neither removing nor changing her supervisor is allowed meanwhile.
    appt, note = charted_note(session, clinic)
    assert charting.sign_note(session, actor=clinic.clinician, note_id=note.id) == []
    with pytest.raises(InvalidInput, match=r"1 signed note\(s\) of Ann Able, PT await co-signature by Bo Baker, PT"):
        clinicians.set_supervisor(session, actor=clinic.admin, provider_id=ann.id, supervisor_provider_id=None)
    assert _supervisor(session, clinic) == bo.id
    charting.cosign_note(session, actor=clinic.clinician2, note_id=note.id)
    assert session.get(Appointment, appt.id).status == "ready_to_bill"
    clinicians.set_supervisor(session, actor=clinic.admin, provider_id=ann.id, supervisor_provider_id=None)
    assert _supervisor(session, clinic) is None
    with pytest.raises(NotAllowed):
        clinicians.set_supervisor(session, actor=clinic.clinician2, provider_id=ann.id, supervisor_provider_id=bo.id)
