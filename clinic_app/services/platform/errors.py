"""Domain errors: each carries a message a member of staff can act on."""

from __future__ import annotations


class ClinicError(Exception):
    """Base of all domain errors; ``str(error)`` is safe to show to the user."""


class NotAllowed(ClinicError):
    """The signed-in role or person may not do this."""


class NotFound(ClinicError):
    """The record asked for does not exist (or is not visible to this user)."""


class InvalidInput(ClinicError):
    """A value a person typed is not acceptable; nothing was changed."""


class BadCredentials(ClinicError):
    """Sign-in failed. Deliberately says nothing about which part was wrong."""

    def __init__(self) -> None:
        super().__init__("Username or password is incorrect.")


class SlotTaken(ClinicError):
    """The provider or room is already booked at that time."""


class OutsideHours(ClinicError):
    """The provider does not work then (working hours or time off)."""


class IllegalTransition(ClinicError):
    """The appointment cannot move from its status to the one asked for."""


class PossibleDuplicate(ClinicError):
    """A registration looks like a patient already on file; confirm to register anyway."""

    def __init__(self, message: str, matches: list) -> None:
        super().__init__(message)
        self.matches = matches


class NoteAlreadySigned(ClinicError):
    """The note is signed: it is the legal record and no longer changes."""


class DraftConflict(ClinicError):
    """Another device saved a different text into the same draft section first.

    ``saved_text`` is what is saved now; the text this device sent was not written
    and stays with the caller, so neither version is lost.
    """

    def __init__(self, message: str, *, saved_text: str, field: str = "") -> None:
        super().__init__(message)
        self.saved_text = saved_text
        self.field = field  # the section at issue


# Messages raised by the database's own rules (alembic 0001) and what they mean.
DB_RULE_MESSAGES = {
    "provider_slot_taken": (SlotTaken, "The provider already has an appointment at that time."),
    "room_slot_taken": (SlotTaken, "The room is already booked at that time."),
    "note_signed": (NoteAlreadySigned, "This note is signed and can no longer be changed."),
    "charge_final": (NotAllowed, "Charges are final once captured."),
    "charge_price_append_only": (NotAllowed, "A charge's price history cannot be changed."),
    "audit_log_append_only": (NotAllowed, "The audit log cannot be changed."),
    "ledger_entry_append_only": (NotAllowed, "Ledger entries are final; post a reversing entry to correct one."),
    "remittance_append_only": (NotAllowed, "Posted remittances are final."),
    "line_posting_append_only": (NotAllowed, "Posted remittances are final."),
    "adjustment_append_only": (NotAllowed, "Posted adjustments are final."),
    "claim_event_append_only": (NotAllowed, "A claim's history cannot be changed."),
    "claim_batch_kept": (NotAllowed, "A claim batch is kept as it was written, and a sent batch is final."),
    "message_kept": (NotAllowed, "A message is kept as it was sent: it cannot be changed or removed."),
    "card_number_refused": (InvalidInput, "That looks like a card number; enter the card terminal's reference instead."),
    "addendum_needs_signed_note": (InvalidInput, "Addenda are for signed notes; edit the draft instead."),
    "addendum_final": (NotAllowed, "An addendum is part of the legal record and cannot be changed."),
    "cosign_needs_signed_note": (InvalidInput, "The note must be signed before it can be co-signed."),
    "cosign_by_signer": (NotAllowed, "A note cannot be co-signed by the clinician who signed it."),
    "cosignature_final": (NotAllowed, "A co-signature is part of the legal record and cannot be changed."),
    "charge_needs_cosignature": (NotAllowed, "This note needs its supervisor's co-signature before it is billed."),
    "attachment_final": (NotAllowed, "An attachment is kept as it was uploaded; upload a new one instead."),
    "clinical_record_kept": (NotAllowed, "Clinical records are kept: resolve or stop it instead of deleting it."),
    "ex_appointment_provider_overlap": (SlotTaken, "The provider already has an appointment at that time."),
    "ex_appointment_room_overlap": (SlotTaken, "The room is already booked at that time."),
    "patient_slot_taken": (SlotTaken, "The patient already has an appointment at that time."),
    "ex_appointment_patient_overlap": (SlotTaken, "The patient already has an appointment at that time."),
    "patient_registration_invalid": (InvalidInput, "The registration is incomplete; check the contact and guarantor."),
    "appointment_too_long": (InvalidInput, "A visit lasts at most a day; choose an earlier end."),
    "intake_form_final": (NotAllowed, "An intake form version is kept as it was saved; save a new version instead."),
    "intake_response_completed": (NotAllowed, "Completed intake answers are final."),
    "intake_consent_signed": (NotAllowed, "A signed consent is kept as it was signed and cannot be changed."),
    "ck_patient_": (InvalidInput, "The registration is incomplete; check the contact and guarantor."),
}


def from_db_error(exc: Exception) -> ClinicError | None:
    """The domain error a database rule violation stands for, if it is one of ours."""
    text = str(getattr(exc, "orig", exc))
    for key, (cls, message) in DB_RULE_MESSAGES.items():
        if key in text:
            return cls(message)
    return None
