"""Reflex configuration: the clinic database and, for several workers, Redis."""

import os

import reflex as rx

from clinic_app import settings

REDIS_URL = os.environ.get("REFLEX_REDIS_URL") or None
# Several workers: each client's state lives in Redis. With Reflex's opportunistic lock
# the worker that holds a browser's socket keeps that browser's state in memory and
# holds its Redis lock for OPLOCK_HOLD_TIME, then writes it back; a push or an event then
# costs no Redis round trip (about 3x less CPU per pushed board, docs/scale-live.md).
# The hold ends for all of a worker's browsers at once and the next push pays the round
# trips again, so it is long. A reconnect to another worker asks for the lock and the
# holder hands it over at once; only a hard-killed worker leaves it held, until
# LOCK_EXPIRATION_MS (its browsers wait that long for their state). Both can be
# overridden (REFLEX_OPLOCK_HOLD_TIME, REFLEX_REDIS_LOCK_EXPIRATION; REFLEX_OPLOCK_ENABLED=false).
OPLOCK_HOLD_TIME = "50s"
LOCK_EXPIRATION_MS = 60_000
if REDIS_URL:
    os.environ.setdefault("REFLEX_OPLOCK_ENABLED", "true")
    os.environ.setdefault("REFLEX_OPLOCK_HOLD_TIME", OPLOCK_HOLD_TIME)

# CORS: browsers may call the backend with credentials only from the app's own origin (no CORS
# headers at all), plus CLINIC_ALLOWED_ORIGINS; `make dev` serves the pages from another port
# than the backend, so its frontend origin is allowed there. (Socket.IO checks the same list; an
# empty one leaves its handshake to the SameSite=Strict session cookie and the session gate.)
CORS_ORIGINS = list(settings.ALLOWED_ORIGINS)
if os.environ.get("REFLEX_ENV_MODE", "").lower() == "dev":
    CORS_ORIGINS.append(os.environ.get("CLINIC_DEV_FRONTEND", "http://localhost:3000"))

config = rx.Config(
    app_name="clinic_app",
    db_url=settings.database_url(),
    redis_url=REDIS_URL,
    redis_lock_expiration=LOCK_EXPIRATION_MS,
    # One worker keeps client states in memory (Reflex's default writes every state
    # change to disk, a file write per push); several workers share them in Redis.
    state_manager_mode=rx.constants.StateManagerMode.REDIS if REDIS_URL else rx.constants.StateManagerMode.MEMORY,
    cors_allowed_origins=CORS_ORIGINS,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.SitemapPlugin(),
        rx.plugins.RadixThemesPlugin(theme=rx.theme(appearance="light", accent_color="indigo", radius="medium")),
    ],
)
