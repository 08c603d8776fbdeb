"""Documents a clinician releases to the patient, on both databases: only a signed note's
visit summary, by its clinician (or their supervisor) with the permission to sign notes;
"Stop sharing" takes it back; the patient lists and downloads only their own (another
patient's id is 404 over HTTP, as one that does not exist); release, withdrawal and every
download are audited."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlmodel import select
from starlette.testclient import TestClient

from clinic_app.api import build_api
from clinic_app.api.portal import PORTAL_COOKIE
from clinic_app.models import AuditLog, ReleasedDocument
from clinic_app.services.charting import charting, released
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound
from clinic_app.services.portal import accounts, care
from clinic_app.services.portal.accounts import Me
from tests.conftest import at
from tests.services.helpers import charted_note
from tests.services.test_portal_care import _account


@pytest.fixture
def signed(session, clinic):
    """Cara's 09:00 visit, its note signed; Cara and Eli with portal accounts."""
    _, note = charted_note(session, clinic, "09:00")
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="plan", text="Heel raises daily")
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    session.commit()
    return {"note": note, "cara": _account(session, clinic, 0), "eli": _account(session, clinic, 1)}


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _audit(session, action: str) -> list[AuditLog]:
    return session.exec(select(AuditLog).where(AuditLog.action == action,
                                               AuditLog.entity == "released_document")).all()


def test_a_signed_notes_summary_is_shared_listed_downloaded_and_audited(session, clinic, signed):
    note, cara = signed["note"], signed["cara"]
    assert care.documents(session, cara) == []
    row = released.share_visit_summary(session, actor=clinic.clinician, note_id=note.id, now=at("12:00"))
    session.commit()
    assert released.sharing(session, note_id=note.id).shared
    [doc] = care.documents(session, cara)
    assert (doc.day, doc.title, doc.url) == ("2030-03-12", "Visit summary, 12 March 2030, Ann Able, PT",
                                             f"/portal/documents/{row.id}.pdf")
    name, pdf = care.document_pdf(session, cara, document_id=row.id)
    session.commit()
    assert name == "visit-summary-2030-03-12.pdf" and pdf.startswith(b"%PDF")
    text = _text(pdf)
    for words in ("Visit summary", "Cara", clinic.patients[0].last_name, "Knee pain 4/10", "Heel raises daily", "M25.561"):
        assert words in text
    [release] = _audit(session, "release")
    assert (release.user_id, release.patient_id, release.entity_id) == (clinic.clinician.user_id, cara.patient_id, row.id)
    [download] = _audit(session, "download")
    assert (download.patient_id, download.entity_id, download.user_id) == (cara.patient_id, row.id, None)


def test_only_a_signed_note_is_shared(session, clinic):
    _, draft = charted_note(session, clinic, "10:00")
    with pytest.raises(InvalidInput, match="Sign the note first"):
        released.share_visit_summary(session, actor=clinic.clinician, note_id=draft.id)
    session.rollback()
    assert session.exec(select(ReleasedDocument)).all() == []


def test_only_its_clinician_with_the_right_to_sign_shares_it(session, clinic, signed):
    note = signed["note"]
    with pytest.raises(NotAllowed, match="another clinician"):
        released.share_visit_summary(session, actor=clinic.clinician2, note_id=note.id)
    session.rollback()
    for actor in (clinic.reception, clinic.biller, clinic.manager):
        with pytest.raises(NotAllowed):
            released.share_visit_summary(session, actor=actor, note_id=note.id)
        session.rollback()
    assert session.exec(select(ReleasedDocument)).all() == []


def test_stop_sharing_takes_it_back_and_sharing_again_brings_it_back(session, clinic, signed):
    note, cara = signed["note"], signed["cara"]
    row = released.share_visit_summary(session, actor=clinic.clinician, note_id=note.id, now=at("12:00"))
    session.commit()
    with pytest.raises(InvalidInput, match="already shared"):
        released.share_visit_summary(session, actor=clinic.clinician, note_id=note.id)
    session.rollback()
    released.stop_sharing(session, actor=clinic.clinician, note_id=note.id, now=at("12:05"))
    session.commit()
    assert care.documents(session, cara) == []
    assert not released.sharing(session, note_id=note.id).shared
    with pytest.raises(NotFound):
        care.document_pdf(session, cara, document_id=row.id)
    session.rollback()
    with pytest.raises(InvalidInput, match="not shared"):
        released.stop_sharing(session, actor=clinic.clinician, note_id=note.id)
    session.rollback()
    again = released.share_visit_summary(session, actor=clinic.clinician, note_id=note.id, now=at("12:10"))
    session.commit()
    assert again.id == row.id and [d.id for d in care.documents(session, cara)] == [row.id]
    assert [a.action for a in session.exec(select(AuditLog).where(AuditLog.entity == "released_document")
                                           .order_by(AuditLog.id))] == ["release", "withdraw", "release"]


def test_another_patients_document_is_refused(session, clinic, signed):
    row = released.share_visit_summary(session, actor=clinic.clinician, note_id=signed["note"].id)
    session.commit()
    eli = signed["eli"]
    assert care.documents(session, eli) == []
    with pytest.raises(NotFound):
        care.document_pdf(session, eli, document_id=row.id)
    session.rollback()
    with pytest.raises(NotFound):
        care.document_pdf(session, Me(account_id=0, patient_id=eli.patient_id), document_id=row.id + 1000)
    session.rollback()
    assert _audit(session, "download") == []


def test_the_download_route_serves_only_the_cookies_patient(engine, session, clinic, signed):
    row = released.share_visit_summary(session, actor=clinic.clinician, note_id=signed["note"].id)
    session.commit()
    cookies = {}
    for who in ("cara", "eli"):
        account = accounts.account_of(session, signed[who].patient_id)
        cookies[who] = accounts.start_session(session, account=account)
    session.commit()
    with TestClient(build_api(lambda: engine), base_url="http://clinic.test") as client:
        mine = client.get(f"/portal/documents/{row.id}.pdf", cookies={PORTAL_COOKIE: cookies["cara"]})
        assert mine.status_code == 200 and mine.content.startswith(b"%PDF")
        assert mine.headers["content-type"] == "application/pdf"
        theirs = client.get(f"/portal/documents/{row.id}.pdf", cookies={PORTAL_COOKIE: cookies["eli"]})
        assert theirs.status_code == 404
        none = client.get(f"/portal/documents/{row.id}.pdf", follow_redirects=False)
        assert (none.status_code, none.headers["location"]) == (303, "/portal")
    session.expire_all()
    assert [(a.patient_id, a.entity_id) for a in _audit(session, "download")] == [(signed["cara"].patient_id, row.id)]
