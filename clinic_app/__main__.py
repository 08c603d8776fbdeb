"""Command line: ``python -m clinic_app migrate | demo | create-user | audit | backup | restore |
claims export | claims ack | era import | eligibility request/import | api-token | fhir | hl7 | reminders send-due``."""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from pathlib import Path

from clinic_app import settings
from clinic_app.services.platform.money import dollars


def alembic_config(url: str | None = None):
    """Alembic's config for this project's migrations."""
    from alembic.config import Config

    cfg = Config(str(settings.PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(settings.PROJECT_ROOT / "alembic"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def migrate(url: str | None = None) -> None:
    """Upgrade the database to the newest revision (a missing PostgreSQL database is created first)."""
    from sqlalchemy import make_url

    from alembic import command
    from clinic_app.db import ensure_database

    target = url or settings.database_url()
    if ensure_database(target):
        print(f"Created the PostgreSQL database {make_url(target).database!r}.")
    command.upgrade(alembic_config(url), "head")
    _fill_kpi_rollup(target)


def _fill_kpi_rollup(url: str) -> None:
    """An upgrade that brought a new KPI rollup table leaves it empty: compute it here, once,
    rather than in the first manager's dashboard load (minutes at a million visits)."""
    import datetime as dt
    import time

    from clinic_app.db import make_engine
    from clinic_app.services.kpi import kpi

    engine = make_engine(url)
    try:
        started = time.perf_counter()
        filled = kpi.fill_rollup(engine, today=dt.datetime.now(dt.UTC).date())
        if filled:
            print(f"KPI rollup computed for {filled[0]} to {filled[1]} in {time.perf_counter() - started:.1f} s.")
    finally:
        engine.dispose()


def _demo(args) -> int:
    from alembic import command
    from clinic_app.db import session_scope
    from clinic_app.services.platform import demo

    migrate()
    with session_scope() as session:
        empty = demo.is_empty(session)
    if not empty and args.if_empty:
        print("The database already holds a clinic; left as it is.")
        return 0
    if not empty and not args.reset:
        print("The database already holds a clinic. Use --reset to replace it with the demo clinic.")
        return 1
    if not empty:
        # Clinical and billing rows cannot be deleted (database rules), so a reset
        # rebuilds the schema instead: a SQLite file is started afresh (downgrading
        # rebuilds tables that claims and ledger rows refer to, which SQLite refuses
        # once the demo has claims); PostgreSQL is downgraded to nothing.
        if not _remove_sqlite_file(settings.database_url()):
            command.downgrade(alembic_config(), "base")
        migrate()
        _restart_audit_anchors()
    now = None
    if args.now:
        import datetime as dt

        now = dt.datetime.fromisoformat(args.now)
        now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    with session_scope() as session:
        made = demo.load(session, patients=args.patients, now=now)
    print(
        f"Demo clinic loaded: {made['locations']} locations, {made['providers']} providers, "
        f"{made['patients']} patients, {made['appointments']} appointments. "
        f"Every demo user's password is {demo.DEMO_PASSWORD!r}."
    )
    return 0


def _create_user(args) -> int:
    from clinic_app.db import session_scope
    from clinic_app.services.platform import auth
    from clinic_app.services.platform.errors import ClinicError

    password = os.environ.get("CLINIC_NEW_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Password again: ") != password:
                print("The passwords differ; nothing was created.", file=sys.stderr)
                return 1
    migrate()
    try:
        with session_scope() as session:
            user = auth.create_user(
                session, actor=None, username=args.username, full_name=args.full_name,
                password=password, role=args.role, provider_id=args.provider_id,
            )
            print(f"Created {user.role} {user.username!r} (id {user.id}).")
    except ClinicError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


def _now(args):
    """``--now`` as an aware time (UTC when it names no zone), or None for the real now."""
    import datetime as dt

    if not args.now:
        return None
    now = dt.datetime.fromisoformat(args.now)
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


def _reminders(args) -> int:
    from clinic_app import reminder_worker

    migrate()
    queued, counts = reminder_worker.run_once(now=_now(args))
    print(f"Reminders: {queued} queued, {counts['sent']} sent, {counts['failed']} failed, {counts['skipped']} skipped.")
    return 0


def _tasks(args) -> int:
    from clinic_app import tasks_worker

    migrate()
    counts = tasks_worker.sweep(now=_now(args))  # one committed transaction per rule, as the app's sweep
    changed = ", ".join(f"{kind} {n}" for kind, n in counts.items())
    print(f"Task sweep: tasks opened, changed or closed per rule: {changed}.")
    return 0


def _api_token(args) -> int:
    from clinic_app.db import session_scope
    from clinic_app.services.platform import api_tokens
    from clinic_app.services.platform.errors import ClinicError

    migrate()
    try:
        with session_scope() as session:
            row, token = api_tokens.create_token(
                session, actor=None, username=args.username, scopes=args.scopes, days=args.days, label=args.label,
            )
            print(f"API token {row.id} for {args.username!r}, scopes {row.scopes}, expires {row.expires_at:%Y-%m-%d %H:%M} UTC.")
            print("It is shown once; keep it secret:", file=sys.stderr)
            print(token)
    except ClinicError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


def _audit(args) -> int:
    from clinic_app.db import session_scope
    from clinic_app.services.platform import audit

    anchors = audit.anchor_path(settings.database_url())
    with session_scope() as session:
        if args.audit_command == "anchor":
            written = audit.write_anchor(session, anchors)
            print(f"Anchored {written['rows']} rows (head row {written['head_id']}) in {anchors}." if written
                  else "Nothing new to anchor.")
            return 0
        verdict = audit.verify(session, anchors=anchors)
        if verdict.intact:
            audit.write_anchor(session, anchors)
    if not verdict.intact:
        for problem in verdict.problems:
            print(problem)
        return 1
    print(f"Audit log intact: {verdict.rows} rows checked against {verdict.anchors} anchors.")
    return 0


def _backup(args) -> int:
    from clinic_app.services.platform import backup
    from clinic_app.services.platform.errors import ClinicError

    try:
        if args.command == "backup":
            made = backup.backup(database_url=settings.database_url(), out_dir=args.out, attachments=settings.attachments_dir())
            print(f"Backup written to {args.out}: {', '.join(made['files'])}.")
        else:
            backup.restore(database_url=settings.database_url(), backup_dir=args.backup, attachments=settings.attachments_dir())
            retired = _restart_audit_anchors()
            print(f"Restored from {args.backup}. Start the app again."
                  + (f" The audit anchors of the replaced database were moved to {retired}." if retired else ""))
    except ClinicError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


def _remove_sqlite_file(url: str) -> bool:
    """Delete a SQLite database file (and its journal files); False for other databases."""
    from sqlalchemy import make_url

    from clinic_app import db

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return False
    if db.engine.cache_info().currsize:  # the session that found the clinic holds the file
        db.engine().dispose()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(parsed.database + suffix).unlink(missing_ok=True)
    return True


def _restart_audit_anchors():
    """After a restore or a reset the audit log is another one: its anchors start again (the old
    file is kept beside, renamed), from the log as it is now."""
    from clinic_app.db import make_engine, session_scope
    from clinic_app.services.platform import audit

    path = audit.anchor_path(settings.database_url())
    retired = audit.retire_anchors(path)
    engine = make_engine(settings.database_url())
    try:
        with session_scope(engine) as session:
            audit.write_anchor(session, path)
    finally:
        engine.dispose()
    return retired


def _billing_actor(session, username: str | None):
    """The biller a command acts as: a named active biller, or the command line itself."""
    from sqlmodel import select

    from clinic_app.models import User
    from clinic_app.services.platform import auth
    from clinic_app.services.platform.actor import Actor
    from clinic_app.services.platform.errors import NotAllowed

    if not username:
        return Actor(user_id=None, role="biller", name="command line", source="cli")
    user = session.exec(select(User).where(User.username == username, User.active)).first()
    if user is None or user.role != "biller":
        raise NotAllowed(f"{username!r} is not an active biller.")
    return auth.actor_for(user)


def _claims(args) -> int:
    from pathlib import Path

    from clinic_app.db import session_scope
    from clinic_app.services.platform.errors import ClinicError
    from clinic_app.services.revenue import claims

    migrate()
    if args.claims_command == "ack":
        return _claims_ack(args)
    try:
        with session_scope() as session:
            actor = _billing_actor(session, args.user)
            files = claims.export(session, actor=actor, out_dir=Path(args.out))
    except (ClinicError, OSError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if not files:
        print("No claims are ready to send.")
    for path in files:
        print(f"Wrote {path}")
    return 0


def _x12_import(args, *, kind: str, apply, report, nothing: str) -> int:
    """Read an X12 file (5 MB at most) and apply it as a biller; exit 1 with the reason if refused."""
    from pathlib import Path

    from clinic_app.db import one_transaction
    from clinic_app.services.platform.errors import ClinicError
    from clinic_app.services.revenue import era

    path = Path(args.file)
    try:
        if path.stat().st_size > era.MAX_BYTES:
            raise era.RemittanceRefused(f"{path.name} is over {era.MAX_BYTES // 1_048_576} MB; {kind} files that big are refused.")
        data = path.read_bytes()
        with one_transaction() as session:  # the whole file, or nothing
            actor = _billing_actor(session, args.user)
            summary = apply(session, actor, data)
    except (ClinicError, OSError) as exc:
        print(f"{path.name}: {_with_nothing(str(exc), nothing)}", file=sys.stderr)
        return 1
    print(report(path.name, summary))
    return 0


def _plb_words(cents: int) -> str:
    if not cents:
        return ""
    return f"; provider-level adjustments (PLB) {'withheld' if cents > 0 else 'added'} {dollars(abs(cents))}"


def _with_nothing(message: str, nothing: str) -> str:
    """The refusal, saying once that nothing changed (many messages say it already)."""
    if re.search(r"nothing (was|is) (changed|posted|imported|read)", message, re.IGNORECASE):
        return message
    return f"{message} {nothing}"


def _claims_ack(args) -> int:
    from clinic_app.services.revenue import acks

    return _x12_import(
        args, kind="acknowledgement", nothing="Nothing was changed.",
        apply=lambda session, actor, data: acks.import_ack(session, actor=actor, text=data),
        report=lambda name, summary: "\n".join([
            f"Imported {name} (999): 837P file {summary['file']} {summary['verdict']}; {summary['rejected']} claims rejected."
            if summary["kind"] == "999" else
            f"Imported {name}: {summary['accepted']} accepted, {summary['rejected']} rejected (see the worklist).",
            *[f"  unchanged: {line}" for line in summary["unchanged"]],
        ]),
    )


def _era(args) -> int:
    from clinic_app.services.revenue import era

    migrate()
    return _x12_import(
        args, kind="remittance", nothing="Nothing was posted.",
        apply=lambda session, actor, data: era.post(session, actor=actor, text=data),
        report=lambda name, summary: (
            f"Posted {name}: {summary['claims']} claims, {dollars(summary['paid_cents'])} paid, "
            f"{summary['denied']} denied (see the denial worklist)"
            + _plb_words(summary.get("provider_adjustments_cents", 0)) + "."
        ),
    )


def _eligibility(args) -> int:
    from pathlib import Path

    from clinic_app.db import one_transaction, session_scope
    from clinic_app.services.platform.errors import ClinicError
    from clinic_app.services.revenue import eligibility

    migrate()
    try:
        if args.eligibility_command == "request":
            with session_scope() as session:
                actor = _billing_actor(session, args.user)
                text = eligibility.request_270(session, actor=actor, coverage_id=args.coverage)
            Path(args.out).write_text(text, encoding="ascii")
            print(f"Wrote the 270 for coverage {args.coverage} to {args.out}")
            return 0
        path = Path(args.file)
        if path.stat().st_size > eligibility.MAX_BYTES:
            raise eligibility.EligibilityRefused(f"{path.name} is over {eligibility.MAX_BYTES // 1024} KB; refused.")
        with one_transaction() as session:  # every coverage of the file, or none
            actor = _billing_actor(session, args.user)
            results = eligibility.import_271(session, actor=actor, raw=path.read_bytes())
    except (ClinicError, OSError) as exc:
        print(_with_nothing(str(exc), "Nothing was changed."), file=sys.stderr)
        return 1
    for row in results:
        if row["status"] == "not_found":
            print(f"Coverage {row['coverage_id']}: not found at the payer, {eligibility.aaa_words(row['reason'])}")
            continue
        copay = "unknown" if row["copay_cents"] is None else f"{dollars(row['copay_cents'])}"
        print(f"Coverage {row['coverage_id']}: {row['status']}, copay {copay}")
    return 0


def _fhir(args) -> int:
    import json
    from pathlib import Path

    from clinic_app.db import one_transaction, session_scope
    from clinic_app.services.interop.fhir import bulk as fhir_bulk
    from clinic_app.services.interop.fhir import write as fhir_write
    from clinic_app.services.platform.errors import ClinicError

    migrate()
    if args.fhir_command == "export":
        with session_scope() as session:
            counts = fhir_bulk.export_ndjson(session, actor=None, out_dir=Path(args.out), source="cli")
        print("Exported " + ", ".join(f"{n} {kind}" for kind, n in counts.items()) + f" to {args.out}.")
        return 0
    path = Path(args.file)
    try:
        bundle = fhir_bulk.bundle_from_ndjson(path) if path.is_dir() else json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"Cannot read {path}: {exc}", file=sys.stderr)
        return 1
    try:
        with one_transaction() as session:  # the whole Bundle, or nothing
            result = fhir_write.import_bundle(session, actor=None, bundle=bundle, source="cli")
    except ClinicError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"Imported {len(result['entry'])} entries from {path}.")
    return 0


def _hl7(args) -> int:
    from clinic_app.db import one_transaction, session_scope
    from clinic_app.services.interop.hl7 import hl7v2

    migrate()
    if args.hl7_command == "listen":
        from clinic_app.api.mllp import serve_mllp

        code = serve_mllp(host=args.host, port=args.port, username=args.username)
        # Stopped: the port is closed, every connection and session ended. Leave at once rather than
        # tearing down the interpreter (the ICD-10-CM tables loaded with the services take seconds
        # to free on a busy machine, and a stop is expected within 2 s).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    if args.file == "-":
        text = sys.stdin.read()
    else:
        with open(args.file, encoding="utf-8", newline="") as handle:
            text = handle.read()
    from clinic_app.services.platform.errors import InvalidInput

    try:
        messages = hl7v2.read_batch(text)  # plain messages, or an FHS/BHS batch checked against its trailer
    except InvalidInput as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if re.search(r"(^|[\r\n])\s*(FHS|BHS)", text):
        # An HL7 batch (FHS/BHS) is one: every message applied, or (one refused) none of them.
        try:
            with one_transaction() as session:
                acks = hl7v2.ingest_batch(session, username=args.username, messages=messages)
        except hl7v2.BatchRefused as refused:
            for ack in refused.acks:
                print(ack.replace("\r", "\n"))
            print(str(refused), file=sys.stderr)
            return 1
        for ack in acks:
            print(ack.replace("\r", "\n"))
        return 0
    # Plain messages one after another (a feed's log): each applied on its own, as they would
    # have arrived over MLLP.
    failed = 0
    for message in messages:
        with session_scope() as session:
            ack = hl7v2.ingest(session, username=args.username, message=message)
        print(ack.replace("\r", "\n"))
        failed += "MSA|AA|" not in ack
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clinic_app", description="Clinic app administration.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database to the newest schema")
    demo_p = sub.add_parser("demo", help="load the demo clinic (into an empty database)")
    demo_p.add_argument("--reset", action="store_true", help="replace whatever is there with the demo clinic")
    demo_p.add_argument("--if-empty", action="store_true", help="load only if the database is empty")
    demo_p.add_argument("--patients", type=int, default=300)
    demo_p.add_argument("--now", default=None, help="build the clinic around this UTC time (ISO 8601) instead of now")
    user_p = sub.add_parser("create-user", help="create a staff account (password from stdin or a prompt)")
    user_p.add_argument("--username", required=True)
    user_p.add_argument("--full-name", required=True)
    user_p.add_argument("--role", required=True, choices=["reception", "clinician", "biller", "manager", "admin"])
    user_p.add_argument("--provider-id", type=int, default=None, help="for clinicians: their provider id")
    rem_p = sub.add_parser("reminders", help="appointment reminders (for cron)")
    rem_p.add_argument("action", choices=["send-due"], help="queue reminders for the next 24 h and send those due")
    rem_p.add_argument("--now", default=None, help="act as if it were this UTC time (ISO 8601)")
    tasks_p = sub.add_parser("tasks", help="the staff's task inbox (for cron: the daily sweep)")
    tasks_p.add_argument("action", choices=["sweep"], help="run every task rule over every subject (what time alone makes due)")
    tasks_p.add_argument("--now", default=None, help="act as if it were this UTC time (ISO 8601)")
    token_p = sub.add_parser("api-token", help="API tokens for the FHIR interface")
    token_sub = token_p.add_subparsers(dest="token_command", required=True)
    create_p = token_sub.add_parser("create", help="create a bearer token for a user (printed once)")
    create_p.add_argument("--username", required=True)
    create_p.add_argument("--scopes", required=True, help="e.g. 'user/*.read' or 'user/Patient.read user/Appointment.write'")
    create_p.add_argument("--days", type=int, default=30, help="days until it expires (1-366)")
    create_p.add_argument("--label", default="", help="what the token is for")
    fhir_p = sub.add_parser("fhir", help="FHIR R4 bulk export and import")
    fhir_sub = fhir_p.add_subparsers(dest="fhir_command", required=True)
    export_p = fhir_sub.add_parser("export", help="write the whole clinic as <Type>.ndjson files")
    export_p.add_argument("--out", required=True, help="folder to write to")
    import_p = fhir_sub.add_parser("import", help="apply a FHIR transaction Bundle (JSON file) or an NDJSON export folder")
    import_p.add_argument("file")
    hl7_p = sub.add_parser("hl7", help="HL7 v2 ingest (ADT^A04/A08, SIU^S12)")
    hl7_sub = hl7_p.add_subparsers(dest="hl7_command", required=True)
    ingest_p = hl7_sub.add_parser("ingest", help="apply HL7 v2 messages from a file (- for stdin); prints each ACK")
    ingest_p.add_argument("file")
    ingest_p.add_argument("--username", required=True, help="the reception account the feed acts as")
    listen_p = hl7_sub.add_parser("listen", help="an MLLP listener that applies messages and answers with ACKs")
    listen_p.add_argument("--username", required=True, help="the reception account the feed acts as")
    listen_p.add_argument("--host", default="127.0.0.1")
    listen_p.add_argument("--port", type=int, default=2575)
    audit_p = sub.add_parser("audit", help="audit log tools")
    audit_p.add_argument("audit_command", choices=["verify", "anchor"],
                         help="verify: check the keyed chain and its anchors, report every problem; "
                              "anchor: append the chain's head to the anchor file (the app does it every few minutes)")
    backup_p = sub.add_parser("backup", help="back up the database and attachments into a new folder")
    backup_p.add_argument("--out", required=True, type=Path)
    restore_p = sub.add_parser("restore", help="replace the database and attachments with a backup (stop the app first)")
    restore_p.add_argument("backup", type=Path)
    claims_p = sub.add_parser("claims", help="claims: export the 837P files of the claims ready to send")
    claims_sub = claims_p.add_subparsers(dest="claims_command", required=True)
    export_p = claims_sub.add_parser("export", help="write one 837P file per payer and mark the claims submitted")
    export_p.add_argument("--out", required=True, help="directory for the 837P files")
    export_p.add_argument("--user", default=None, help="the biller's username to record (default: the command line)")
    ack_p = claims_sub.add_parser("ack", help="import a 999 or 277CA acknowledgement: claims become accepted or rejected")
    ack_p.add_argument("file")
    ack_p.add_argument("--user", default=None, help="the biller's username to record (default: the command line)")
    era_p = sub.add_parser("era", help="remittance: import an 835 file")
    era_sub = era_p.add_subparsers(dest="era_command", required=True)
    import_p = era_sub.add_parser("import", help="post an 835 file's payments and adjustments (all or nothing)")
    import_p.add_argument("file")
    import_p.add_argument("--user", default=None, help="the biller's username to record (default: the command line)")
    elig_p = sub.add_parser("eligibility", help="insurance eligibility: X12 270 requests and 271 answers")
    elig_sub = elig_p.add_subparsers(dest="eligibility_command", required=True)
    request_p = elig_sub.add_parser("request", help="write the 270 inquiry for one coverage")
    request_p.add_argument("--coverage", type=int, required=True, help="the coverage id")
    request_p.add_argument("--out", required=True, help="the file to write")
    request_p.add_argument("--user", default=None, help="the biller's username to record (default: the command line)")
    answer_p = elig_sub.add_parser("import", help="read a 271 answer into its coverages (all or nothing)")
    answer_p.add_argument("file")
    answer_p.add_argument("--user", default=None, help="the biller's username to record (default: the command line)")
    args = parser.parse_args(argv)
    if args.command == "eligibility":
        return _eligibility(args)
    if args.command == "audit":
        return _audit(args)
    if args.command in ("backup", "restore"):
        return _backup(args)
    if args.command == "migrate":
        migrate()
        print("Database is at the newest schema.")
        return 0
    if args.command == "demo":
        return _demo(args)
    if args.command == "reminders":
        return _reminders(args)
    if args.command == "tasks":
        return _tasks(args)
    if args.command == "claims":
        return _claims(args)
    if args.command == "era":
        return _era(args)
    if args.command == "api-token":
        return _api_token(args)
    if args.command == "fhir":
        return _fhir(args)
    if args.command == "hl7":
        return _hl7(args)
    return _create_user(args)


if __name__ == "__main__":
    sys.exit(main())
