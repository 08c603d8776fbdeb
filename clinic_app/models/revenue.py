"""The revenue cycle: payers, coverage, fee schedules, claims, remittances and the
patient ledger.

Money is integer cents. Claims keep their status history; remittance postings and
ledger entries are append-only (a correction is a reversing entry).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow
from clinic_app.models.interop import touched_column

CLAIM_STATUSES = ("draft", "submitted", "accepted", "rejected", "denied", "paid", "appealed")
RELATIONSHIPS = ("self", "spouse", "child", "other")
LEDGER_KINDS = ("charge", "payment", "adjustment", "write_off", "refund", "transfer")
PAYMENT_METHODS = ("cash", "cheque", "card", "insurance", "")

_claim_status_list = ", ".join(f"'{s}'" for s in CLAIM_STATUSES)
_relationship_list = ", ".join(f"'{s}'" for s in RELATIONSHIPS)
_kind_list = ", ".join(f"'{s}'" for s in LEDGER_KINDS)
_method_list = ", ".join(f"'{s}'" for s in PAYMENT_METHODS)


class Payer(SQLModel, table=True):
    """An insurer the clinic bills; ``payer_id`` is the id claims are addressed to."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, unique=True)
    payer_id: str = Field(max_length=80, unique=True)
    # Modifiers every therapy line to this payer carries (e.g. GP for Medicare PT).
    default_modifiers: str = Field(default="", max_length=11)
    active: bool = True
    # The 837P's SBR09 (X12 element 1032): MB Medicare Part B, MC Medicaid, BL Blue Cross, CI
    # commercial... (services/payers.FILING_INDICATORS).
    claim_filing_indicator: str = Field(default="CI", max_length=2, sa_column_kwargs={"server_default": "CI"})


class Coverage(SQLModel, table=True):
    """A patient's insurance with one payer between two dates; priority 1 is primary."""

    __table_args__ = (
        CheckConstraint("priority IN (1, 2)", name="ck_coverage_priority"),
        CheckConstraint(f"relationship IN ({_relationship_list})", name="ck_coverage_relationship"),
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="ck_coverage_dates"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    payer_id: int = Field(foreign_key="payer.id", index=True)
    member_id: str = Field(max_length=40)
    group_number: str = Field(default="", max_length=40)
    priority: int = 1
    relationship: str = Field(default="self", max_length=8)
    # The policy holder when not the patient (relationship other than self).
    subscriber_first_name: str = Field(default="", max_length=80)
    subscriber_last_name: str = Field(default="", max_length=80)
    subscriber_birth_date: dt.date | None = None
    # The subscriber's administrative sex (as Patient.sex), for the 837P's subscriber DMG03.
    subscriber_sex: str = Field(default="unknown", max_length=10, sa_column_kwargs={"server_default": "unknown"})
    # The subscriber's address as the payer has it (837P 2010BA; also used for a
    # dependent patient's 2010CA, who lives with the subscriber in this version).
    address: str = Field(default="", max_length=55)
    city: str = Field(default="", max_length=30)
    state: str = Field(default="", max_length=2)
    zip_code: str = Field(default="", max_length=9)
    effective_from: dt.date
    effective_to: dt.date | None = None
    active: bool = True
    # The copay the front desk collects at check-in when no 271 says otherwise.
    copay_cents: int | None = None
    # The last eligibility answer (X12 271) read into this coverage (services/revenue/eligibility.py).
    eligibility_status: str = Field(default="", max_length=10, sa_column_kwargs={"server_default": ""})
    eligibility_copay_cents: int | None = None
    deductible_remaining_cents: int | None = None
    eligibility_checked_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    # Why the payer could not answer for this person (271 AAA03, e.g. "75" subscriber not found).
    eligibility_reason: str = Field(default="", max_length=3, sa_column_kwargs={"server_default": ""})
    # The trace number of the last 270 sent for it; a 271 echoes it back in TRN.
    eligibility_trace: str = Field(default="", max_length=30, sa_column_kwargs={"server_default": ""})
    updated_at: dt.datetime | None = Field(default_factory=utcnow, sa_column=touched_column())


class FeeSchedule(SQLModel, table=True):
    """The price per unit of a code for one payer, or the self-pay rate when payer is empty."""

    __tablename__ = "fee_schedule"
    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="ck_fee_schedule_amount"),
        UniqueConstraint("payer_id", "code"),
        Index(
            "uq_fee_schedule_self_pay", "code", unique=True,
            sqlite_where=text("payer_id IS NULL"), postgresql_where=text("payer_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    payer_id: int | None = Field(default=None, foreign_key="payer.id")
    code: str = Field(max_length=5)
    amount_cents: int


class BillingProfile(SQLModel, table=True):
    """The billing provider of a location as claims name it: organisation, NPI, tax id."""

    __tablename__ = "billing_profile"

    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key="location.id", unique=True)
    organisation: str = Field(max_length=60)
    npi: str = Field(default="", max_length=10)
    tax_id: str = Field(default="", max_length=9)
    address: str = Field(default="", max_length=55)
    city: str = Field(default="", max_length=30)
    state: str = Field(default="", max_length=2)
    zip_code: str = Field(default="", max_length=9)


class Claim(SQLModel, table=True):
    """A claim for one visit to one payer. ``number`` is the patient control number."""

    __table_args__ = (
        CheckConstraint(f"status IN ({_claim_status_list})", name="ck_claim_status"),
        CheckConstraint("total_cents >= 0", name="ck_claim_total"),
        CheckConstraint("frequency IN ('1', '7', '8')", name="ck_claim_frequency"),
        Index("ix_claim_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True)
    appointment_id: int = Field(foreign_key="appointment.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    payer_id: int = Field(foreign_key="payer.id", index=True)
    coverage_id: int = Field(foreign_key="coverage.id")
    # On a primary claim: the secondary coverage (reported as other insurance). On a
    # secondary claim: the primary coverage, whose adjudication the claim reports.
    secondary_coverage_id: int | None = Field(default=None, foreign_key="coverage.id")
    # Set on a claim to the secondary payer: the primary claim whose balance it bills.
    primary_claim_id: int | None = Field(default=None, foreign_key="claim.id", unique=True, index=True)
    service_date: dt.date
    status: str = Field(default="draft", max_length=10)
    frequency: str = Field(default="1", max_length=1)
    # The payer's own number for the claim (835 CLP07); a corrected claim cites it.
    payer_claim_number: str = Field(default="", max_length=50)
    total_cents: int
    submit_count: int = 0
    # The GS control number of the 837P file that last carried the claim (a 999 names it).
    batch_control: str = Field(default="", max_length=9)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ClaimLine(SQLModel, table=True):
    """A service line of a claim, from one captured charge."""

    __tablename__ = "claim_line"
    __table_args__ = (
        UniqueConstraint("claim_id", "line_no"),
        CheckConstraint("units >= 1", name="ck_claim_line_units"),
        CheckConstraint("amount_cents >= 0", name="ck_claim_line_amount"),
    )

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    charge_id: int = Field(foreign_key="charge.id")
    line_no: int
    code: str = Field(max_length=5)
    modifiers: str = Field(default="", max_length=11)  # up to four, comma separated
    units: int
    amount_cents: int
    pointers: str = Field(default="", max_length=12)  # diagnosis positions, comma separated


class ClaimDiagnosis(SQLModel, table=True):
    """An ICD-10-CM code on a claim, in its position (1 = principal)."""

    __tablename__ = "claim_diagnosis"
    __table_args__ = (UniqueConstraint("claim_id", "position"), CheckConstraint("position BETWEEN 1 AND 12", name="ck_claim_dx_position"))

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    position: int
    code: str = Field(max_length=8)


class ClaimEvent(SQLModel, table=True):
    """One status change of a claim: the claim's history."""

    __tablename__ = "claim_event"
    __table_args__ = (Index("ix_claim_event_status_at", "to_status", "at"),)  # clean-claim and denial rates

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    from_status: str | None = Field(default=None, max_length=10)
    to_status: str = Field(max_length=10)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    note: str = Field(default="", max_length=200)


class Remittance(SQLModel, table=True):
    """One imported 835 payment advice; the same file is never posted twice."""

    id: int | None = Field(default=None, primary_key=True)
    file_sha256: str = Field(max_length=64, unique=True)
    payer_name: str = Field(default="", max_length=60)
    trace_number: str = Field(default="", max_length=50)
    payment_cents: int
    paid_on: dt.date | None = None
    user_id: int | None = Field(default=None, foreign_key="user.id")
    imported_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class LinePosting(SQLModel, table=True):
    """What a remittance paid on one claim line; charge - paid = the sum of its adjustments."""

    __tablename__ = "line_posting"

    id: int | None = Field(default=None, primary_key=True)
    remittance_id: int = Field(foreign_key="remittance.id", index=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    claim_line_id: int = Field(foreign_key="claim_line.id", index=True)
    claim_status_code: str = Field(max_length=2)
    charge_cents: int
    paid_cents: int
    remark_codes: str = Field(default="", max_length=60)  # RARC, comma separated


class Adjustment(SQLModel, table=True):
    """A CAS adjustment of a posted line: group (CO, PR, OA, PI, CR) and CARC reason."""

    __table_args__ = (CheckConstraint("group_code IN ('CO', 'PR', 'OA', 'PI', 'CR')", name="ck_adjustment_group"),)

    id: int | None = Field(default=None, primary_key=True)
    line_posting_id: int = Field(foreign_key="line_posting.id", index=True)
    group_code: str = Field(max_length=2)
    reason_code: str = Field(max_length=5)
    amount_cents: int
    # A claim-level CAS of the 835 (kept on the claim's first posted line, apart from
    # that line's own adjustments): the secondary claim's 2320 CAS reports these.
    claim_level: bool = False


class ProviderAdjustment(SQLModel, table=True):
    """A provider-level adjustment of an 835 (PLB): money the payer withheld from the payment
    (positive, e.g. WO overpayment recovery) or added to it (negative, e.g. L6 interest).

    It belongs to no patient's account: the remittance's payment is what its claims paid less
    these (BPR02 = sum of CLP04 - sum of PLB). Append-only like the ledger.
    """

    __tablename__ = "provider_adjustment"

    id: int | None = Field(default=None, primary_key=True)
    remittance_id: int = Field(foreign_key="remittance.id", index=True)
    payer_id: int | None = Field(default=None, foreign_key="payer.id")
    provider_id_code: str = Field(default="", max_length=50)  # PLB01, the payee's id at the payer
    fiscal_period_end: dt.date  # PLB02
    reason_code: str = Field(max_length=2)  # PLB03-1 (X12 element 426), e.g. WO, L6, FB
    reference: str = Field(default="", max_length=50)  # PLB03-2
    # The claim PLB03-2 names, when it is one of ours (e.g. the claim interest is paid on).
    claim_id: int | None = Field(default=None, foreign_key="claim.id")
    amount_cents: int
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class LedgerEntry(SQLModel, table=True):
    """An immutable money movement on a patient's account.

    Positive amounts raise what is owed, negative lower it. ``payer_id`` says who owes
    the amount (empty = the patient). A correction is a new entry that reverses one.
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_kind_list})", name="ck_ledger_kind"),
        CheckConstraint(f"method IN ({_method_list})", name="ck_ledger_method"),
        # KPIs: payments and adjustments by date, billed charges by date of service.
        Index("ix_ledger_kind_created", "kind", "created_at"),
        Index("ix_ledger_kind_service_date", "kind", "service_date"),
        Index("ix_ledger_created_amount", "created_at", "amount_cents"),  # open AR at a date, index only
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    payer_id: int | None = Field(default=None, foreign_key="payer.id", index=True)
    appointment_id: int | None = Field(default=None, foreign_key="appointment.id", index=True)
    claim_id: int | None = Field(default=None, foreign_key="claim.id", index=True)
    remittance_id: int | None = Field(default=None, foreign_key="remittance.id")
    kind: str = Field(max_length=10)
    amount_cents: int
    service_date: dt.date | None = None
    method: str = Field(default="", max_length=10)
    reference: str = Field(default="", max_length=40)
    reason: str = Field(default="", max_length=120)
    reverses_id: int | None = Field(default=None, foreign_key="ledger_entry.id", unique=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True))
