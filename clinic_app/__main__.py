"""Command line: ``python -m clinic_app migrate | demo | create-user | reminders send-due``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from clinic_app import settings


def alembic_config(url: str | None = None):
    """Alembic's config for this project's migrations."""
    from alembic.config import Config

    cfg = Config(str(settings.PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(settings.PROJECT_ROOT / "alembic"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def migrate(url: str | None = None) -> None:
    """Upgrade the database to the newest revision."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def _demo(args) -> int:
    from alembic import command
    from clinic_app.db import session_scope
    from clinic_app.services import demo

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
        # rebuilds the schema instead.
        command.downgrade(alembic_config(), "base")
        migrate()
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
    from clinic_app.services import auth
    from clinic_app.services.errors import ClinicError

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


def _reminders(args) -> int:
    import datetime as dt

    from clinic_app.db import session_scope
    from clinic_app.services import reminders

    migrate()
    now = None
    if args.now:
        now = dt.datetime.fromisoformat(args.now)
        now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    with session_scope() as session:
        queued, counts = reminders.run_once(session, now=now)
    print(f"Reminders: {queued} queued, {counts['sent']} sent, {counts['failed']} failed, {counts['skipped']} skipped.")
    return 0


def _audit(args) -> int:
    from clinic_app.db import session_scope
    from clinic_app.services import audit

    with session_scope() as session:
        verdict = audit.verify(session)
    print(verdict.problem if not verdict.intact else f"Audit log intact: {verdict.rows} rows checked.")
    return 0 if verdict.intact else 1


def _backup(args) -> int:
    from clinic_app.services import backup
    from clinic_app.services.errors import ClinicError

    try:
        if args.command == "backup":
            made = backup.backup(database_url=settings.database_url(), out_dir=args.out, attachments=settings.attachments_dir())
            print(f"Backup written to {args.out}: {', '.join(made['files'])}.")
        else:
            backup.restore(database_url=settings.database_url(), backup_dir=args.backup, attachments=settings.attachments_dir())
            print(f"Restored from {args.backup}. Start the app again.")
    except ClinicError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


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
    audit_p = sub.add_parser("audit", help="audit log tools")
    audit_p.add_argument("audit_command", choices=["verify"], help="verify: check the hash chain, report the first tampered row")
    backup_p = sub.add_parser("backup", help="back up the database and attachments into a new folder")
    backup_p.add_argument("--out", required=True, type=Path)
    restore_p = sub.add_parser("restore", help="replace the database and attachments with a backup (stop the app first)")
    restore_p.add_argument("backup", type=Path)
    args = parser.parse_args(argv)
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
    return _create_user(args)


if __name__ == "__main__":
    sys.exit(main())
