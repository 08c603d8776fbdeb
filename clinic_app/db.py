"""The database engine, sessions and the UTC timestamp column type."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, TextClause, event
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from clinic_app import settings


def utcnow() -> dt.datetime:
    """Now, as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back as an aware UTC datetime.

    SQLite keeps no zone, so values go in as naive UTC there; PostgreSQL gets
    ``timestamptz``. Naive datetimes are refused: they are a bug waiting to happen.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC time is stored")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_date(stored: str | None, zone: str) -> str | None:
    """SQLite's clinic_local_date(time, zone): the 'YYYY-MM-DD' local date of a stored UTC time."""
    if stored is None:
        return None
    moment = dt.datetime.fromisoformat(stored).replace(tzinfo=dt.UTC)
    return moment.astimezone(_zone(zone)).date().isoformat()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the SQLite settings the app relies on."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Foreign keys are off by default in SQLite; WAL lets readers run beside
            # the one writer; busy_timeout makes a second writer wait, not fail.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            # The KPI queries' local date of a UTC time (PostgreSQL has AT TIME ZONE).
            dbapi_conn.create_function("clinic_local_date", 2, _local_date, deterministic=True)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # A transaction that will write takes the write lock at BEGIN (see
            # for_write), so two that both read then write queue up instead of one
            # failing late with "database is locked"; reads stay concurrent.
            immediate = conn.get_execution_options().get("clinic_write")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        # pysqlite's own transaction handling must be off for the BEGIN above.
        @event.listens_for(engine, "connect", insert=True)
        def _sqlite_autocommit_off(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def ensure_database(url: str) -> bool:
    """Create ``url``'s PostgreSQL database if the server does not have it yet.

    Returns whether it was created. SQLite files (and their folder) are created on
    first use, so there is nothing to do for them. Needs a role allowed to CREATE
    DATABASE; the error says so when it is not.
    """
    from sqlalchemy import make_url, text

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql") or not parsed.database:
        return False
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}).first():
                return False
            quoted = parsed.database.replace('"', '""')
            conn.execute(text(f'CREATE DATABASE "{quoted}"'))
            return True
    finally:
        admin.dispose()


# session.info keys: the session's open transaction has written (flushed or executed DML),
# and the session belongs to a transaction its caller owns (one_transaction).
_WROTE = "clinic_wrote"
_OWNED = "clinic_owned"
_DML = ("insert", "update", "delete")


@event.listens_for(Session, "after_flush")
def _flushed(session, _context) -> None:
    session.info[_WROTE] = True  # only called when the flush wrote something


@event.listens_for(Session, "do_orm_execute")
def _executed(state) -> None:
    statement = state.statement
    if state.is_insert or state.is_update or state.is_delete or (
        isinstance(statement, TextClause) and statement.text.lstrip()[:6].lower() in _DML
    ):
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _ended(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)


def for_write(session: Session) -> None:
    """Start the session's next transaction as a writer (services call this first).

    On SQLite this takes the write lock up front (BEGIN IMMEDIATE); on PostgreSQL it
    changes nothing. A read-only transaction already open is ended first; a transaction
    that has written anything (or one the caller owns, ``one_transaction``) is never
    committed here: what a service composes into its caller's work commits with it or not
    at all.
    """
    if session.info.get(_OWNED):
        return
    if session.in_transaction():
        if (session.in_nested_transaction() or session.new or session.dirty or session.deleted
                or session.info.get(_WROTE)):
            return
        session.commit()
    session.connection(execution_options={"clinic_write": True})


@contextmanager
def one_transaction(bind: Engine | None = None) -> Iterator[Session]:
    """A session whose one write transaction belongs to the caller: all or nothing.

    Importers (a FHIR transaction Bundle, an 835, an HL7 batch) run every service they
    compose inside it. A service's own ``commit()`` only releases a savepoint and its
    ``rollback()`` only undoes its own part: nothing reaches the database unless the
    whole block finishes, and an exception rolls all of it back. Live events the services
    publish meanwhile are held and sent after the commit (never after a rollback).
    """
    from clinic_app.live import bus

    with (bind or engine()).connect() as connection:
        connection.execution_options(clinic_write=True)  # SQLite: BEGIN IMMEDIATE
        with bus.held() as held, connection.begin(), Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False,
        ) as session:
            session.info[_OWNED] = True
            yield session
            session.commit()  # the last savepoint; leaving connection.begin() commits the whole
        for item in held:
            bus.publish(item)


@cache
def engine() -> Engine:
    """The process-wide engine for the configured database."""
    return make_engine(settings.database_url())


@contextmanager
def session_scope(bind: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(bind or engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
