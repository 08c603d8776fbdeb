"""Backup and restore of the clinic database (and its attachment folder, when there is one).

A backup is one folder: the database (SQLite online backup, or pg_dump's custom
format), the attachment files, and manifest.json with SHA-256 checksums that restore
checks before it touches anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from clinic_app.services.errors import InvalidInput

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


def restore(*, database_url: str, backup_dir: Path, attachments: Path | None = None) -> dict:
    """Replace the database (and attachments) with a backup, after checking every checksum.

    Stop the app first: restore overwrites the live database.
    """
    backup_dir = Path(backup_dir)
    try:
        manifest = json.loads((backup_dir / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{backup_dir} holds no readable {MANIFEST}; is it a backup folder?") from exc
    for rel, digest in manifest["files"].items():
        path = backup_dir / rel
        if not path.is_file() or _sha256(path) != digest:
            raise InvalidInput(f"The backup file {rel} is missing or damaged; nothing was restored.")
    dialect = make_url(database_url).get_backend_name()
    if dialect != manifest["dialect"]:
        raise InvalidInput(f"This backup is of a {manifest['dialect']} database; the target is {dialect}.")
    if dialect == "sqlite":
        source = sqlite3.connect(backup_dir / "clinic.db")
        target_path = _sqlite_path(database_url)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(target_path)
        with target:
            source.backup(target)
        source.close()
        target.close()
    else:
        subprocess.run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "-d", make_url(database_url).database, *_pg_args(database_url)[:-2],
             str(backup_dir / "clinic.pgdump")],
            check=True, capture_output=True,
        )
    if attachments is not None:
        attachments = Path(attachments)
        if attachments.exists():
            shutil.rmtree(attachments)
        if (backup_dir / "attachments").is_dir():
            shutil.copytree(backup_dir / "attachments", attachments)
    return manifest
