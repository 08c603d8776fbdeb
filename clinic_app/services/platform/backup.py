"""Backup and restore of the clinic database (and its attachment folder, when there is one).

A backup is one folder: the database (SQLite online backup, or pg_dump's custom
format), the attachment files, and manifest.json with SHA-256 checksums that restore
checks before it touches anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from clinic_app.services.platform.errors import InvalidInput

MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def _pg_args(url: str) -> list[str]:
    u = make_url(url)
    args = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres", "-d", u.database or ""]
    return args


def backup(*, database_url: str, out_dir: Path, attachments: Path | None = None) -> dict:
    """Write a backup of the database (and attachments) into a new folder ``out_dir``."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise InvalidInput(f"{out_dir} is not empty; choose a new folder for the backup.")
    out_dir.mkdir(parents=True, exist_ok=True)
    dialect = make_url(database_url).get_backend_name()
    files: dict[str, str] = {}
    if dialect == "sqlite":
        source = sqlite3.connect(_sqlite_path(database_url))
        target = sqlite3.connect(out_dir / "clinic.db")
        with target:
            source.backup(target)  # consistent even while the app writes
        source.close()
        target.close()
        files["clinic.db"] = _sha256(out_dir / "clinic.db")
    elif dialect == "postgresql":
        dump = out_dir / "clinic.pgdump"
        subprocess.run(["pg_dump", "-Fc", "--no-owner", "-f", str(dump), *_pg_args(database_url)], check=True, capture_output=True)
        files["clinic.pgdump"] = _sha256(dump)
    else:
        raise InvalidInput(f"Backups of {dialect} databases are not supported.")
    if attachments is not None and Path(attachments).is_dir():
        for path in sorted(Path(attachments).rglob("*")):
            if path.is_file():
                rel = Path("attachments") / path.relative_to(attachments)
                (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, out_dir / rel)
                files[str(rel)] = _sha256(out_dir / rel)
    manifest = {
        "made_at": dt.datetime.now(dt.UTC).isoformat(),
        "dialect": dialect,
        "files": files,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def _listed(backup_dir: Path, manifest: dict) -> dict[str, Path]:
    """The manifest's files as paths inside the backup, refusing anything that could reach out of
    it: a path that is absolute or climbs (..), a symlink anywhere on the way, a file in the
    backup's attachments that the manifest does not list."""
    files = manifest.get("files")
    if not isinstance(files, dict) or manifest.get("dialect") not in ("sqlite", "postgresql"):
        raise InvalidInput(f"{backup_dir / MANIFEST} is not a manifest this app wrote; nothing was restored.")
    listed: dict[str, Path] = {}
    for rel in files:
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or not parts:
            raise InvalidInput(f"The manifest lists {rel!r}, which is not a file inside the backup; nothing was restored.")
        path = backup_dir / rel
        for step in [backup_dir / Path(*parts[: n + 1]) for n in range(len(parts))]:
            if step.is_symlink():
                raise InvalidInput(f"The backup file {rel} is a link to somewhere else; nothing was restored.")
        listed[rel] = path
    folder = backup_dir / "attachments"
    if folder.is_symlink():
        raise InvalidInput("The backup's attachments folder is a link to somewhere else; nothing was restored.")
    if folder.is_dir():
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            for name in [*dirnames, *filenames]:
                found = Path(dirpath) / name
                rel = found.relative_to(backup_dir).as_posix()
                if found.is_symlink():
                    raise InvalidInput(f"The backup holds {rel}, a link to somewhere else; nothing was restored.")
                if found.is_file() and rel not in listed:
                    raise InvalidInput(f"The backup holds {rel}, which its manifest does not list; nothing was restored.")
    return listed


def restore(*, database_url: str, backup_dir: Path, attachments: Path | None = None) -> dict:
    """Replace the database (and attachments) with a backup, after checking every checksum.

    Only what the manifest lists is read, and no link is followed. PostgreSQL is restored in
    one transaction into a new, empty database which then takes the old one's name (the old
    one is dropped), so a restore that fails halfway leaves the database as it was. Stop the
    app first: restore replaces the live database.
    """
    backup_dir = Path(backup_dir)
    try:
        manifest = json.loads((backup_dir / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{backup_dir} holds no readable {MANIFEST}; is it a backup folder?") from exc
    if not isinstance(manifest, dict):
        raise InvalidInput(f"{backup_dir / MANIFEST} is not a manifest this app wrote; nothing was restored.")
    listed = _listed(backup_dir, manifest)
    for rel, digest in manifest["files"].items():
        path = listed[rel]
        if not path.is_file() or _sha256(path) != digest:
            raise InvalidInput(f"The backup file {rel} is missing or damaged; nothing was restored.")
    dialect = make_url(database_url).get_backend_name()
    if dialect != manifest["dialect"]:
        raise InvalidInput(f"This backup is of a {manifest['dialect']} database; the target is {dialect}.")
    database = "clinic.db" if dialect == "sqlite" else "clinic.pgdump"
    if database not in listed:
        raise InvalidInput(f"The backup's manifest does not list {database}; nothing was restored.")
    if dialect == "sqlite":
        source = sqlite3.connect(listed[database])
        target_path = _sqlite_path(database_url)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(target_path)
        with target:
            source.backup(target)  # one step: the target is replaced whole or not at all
        source.close()
        target.close()
    else:
        _restore_postgresql(database_url, listed[database])
    if attachments is not None:
        attachments = Path(attachments)
        if attachments.exists():
            shutil.rmtree(attachments)
        attachments.mkdir(parents=True, exist_ok=True)
        for rel, path in listed.items():
            if rel.startswith("attachments/"):
                out = attachments / Path(rel).relative_to("attachments")
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, out, follow_symlinks=False)
    return manifest


def _restore_postgresql(database_url: str, dump: Path) -> None:
    """pg_restore into a new database in one transaction, then swap it in by renaming."""
    from sqlalchemy import create_engine, text

    url = make_url(database_url)
    name = url.database or ""
    staging = f"{name}_restoring_{secrets.token_hex(4)}"[:63]
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def quoted(ident: str) -> str:
        return '"' + ident.replace('"', '""') + '"'

    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {quoted(staging)} TEMPLATE template0"))
        done = subprocess.run(
            ["pg_restore", "--single-transaction", "--exit-on-error", "--no-owner", *_pg_args(url.set(database=staging)
                                                                                              .render_as_string(hide_password=False)),
             str(dump)],
            capture_output=True, text=True,
        )
        with admin.connect() as conn:
            if done.returncode != 0:
                conn.execute(text(f"DROP DATABASE IF EXISTS {quoted(staging)}"))
                raise InvalidInput(f"pg_restore could not restore the backup ({done.stderr.strip()[:300]}); "
                                   "nothing was changed.")
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is not None
            busy = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :n"), {"n": name}).scalar()
            if busy:
                conn.execute(text(f"DROP DATABASE IF EXISTS {quoted(staging)}"))
                raise InvalidInput(f"{busy} connections are open to the database {name!r}; stop the app (and anything "
                                   "else using it) and restore again. Nothing was changed.")
            replaced = f"{name}_replaced_{secrets.token_hex(4)}"[:63]
            if exists:
                conn.execute(text(f"ALTER DATABASE {quoted(name)} RENAME TO {quoted(replaced)}"))
            try:
                conn.execute(text(f"ALTER DATABASE {quoted(staging)} RENAME TO {quoted(name)}"))
            except Exception:
                if exists:
                    conn.execute(text(f"ALTER DATABASE {quoted(replaced)} RENAME TO {quoted(name)}"))
                raise
            if exists:
                conn.execute(text(f"DROP DATABASE {quoted(replaced)}"))
    finally:
        admin.dispose()
