"""The role x action matrix, walked whole, and enforced by the services."""

from __future__ import annotations

import pytest

from clinic_app.models import ROLES
from clinic_app.services.frontdesk import board
from clinic_app.services.kpi import kpi
from clinic_app.services.platform.errors import NotAllowed
from clinic_app.services.platform.permissions import PERMISSIONS, allowed, require
from clinic_app.services.revenue import billing
from tests.conftest import DAY

EXPECTED = {
    "reception": {"board.view", "patient.search", "patient.register", "patient.merge", "appointment.reschedule", "provider.hours", "appointment.book", "appointment.check_in", "appointment.no_show", "appointment.cancel",
                  "coverage.edit", "payment.take",
                  "fhir.directory.read", "fhir.patient.read", "fhir.patient.write", "fhir.schedule.read",
                  "fhir.coverage.read", "task.view", "task.work", "fhir.task.read", "message.staff"},
    "clinician": {"board.view", "appointment.start_session", "chart.view", "note.edit", "note.sign", "note.cosign", "note.addendum",
                  "fhir.directory.read", "fhir.patient.read", "fhir.schedule.read", "fhir.condition.read", "fhir.note.read",
                  "fhir.clinical.read", "task.view", "task.work", "fhir.task.read", "message.staff"},
    "biller": {"billing.view", "billing.mark_billed", "billing.claims", "billing.remittance", "billing.setup",
               "coverage.edit", "payment.take", "ledger.adjust", "billing.reports",
               "fhir.directory.read", "fhir.patient.read", "fhir.schedule.read", "fhir.condition.read", "fhir.claim.read",
               "fhir.coverage.read", "task.view", "task.work", "fhir.task.read", "message.staff"},
    "manager": {"kpi.view", "billing.reports", "fhir.directory.read", "task.view", "task.work", "fhir.task.read"},
    "admin": {"kpi.view", "user.create", "user.manage", "audit.view", "provider.hours", "billing.setup", "billing.reports",
              "fhir.directory.read", "fhir.export", "fhir.import", "api_token.create", "measure.define", "template.edit", "clinician.setup"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(PERMISSIONS))
def test_matrix(role, action):
    assert allowed(role, action) == (action in EXPECTED[role])
    if action in EXPECTED[role]:
        require(role, action)
    else:
        with pytest.raises(NotAllowed):
            require(role, action)


def test_unknown_actions_and_anonymous_users_are_refused():
    assert not allowed("admin", "note.delete")
    with pytest.raises(NotAllowed, match="Signing in is needed"):
        require(None, "board.view")


def test_read_services_refuse_roles_that_may_not_see_them(session, clinic):
    for actor in (clinic.biller, clinic.manager, clinic.admin):
        with pytest.raises(NotAllowed):
            board.board_day(session, actor=actor, location_id=clinic.location.id, day=DAY)
    for actor in (clinic.reception, clinic.clinician, clinic.manager):
        with pytest.raises(NotAllowed):
            billing.queue(session, actor=actor, location_id=clinic.location.id)
    for actor in (clinic.reception, clinic.clinician, clinic.biller):
        with pytest.raises(NotAllowed):
            kpi.day_kpis(session, actor=actor, location_id=clinic.location.id, day=DAY)
    with pytest.raises(NotAllowed):
        board.search_patients(session, actor=clinic.biller, text="Di")
    assert [p.last_name for p in board.search_patients(session, actor=clinic.reception, text="di")] == ["Diaz"]
