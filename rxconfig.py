"""Reflex configuration: the clinic database and, for several workers, Redis."""

import os

import reflex as rx

from clinic_app import settings

REDIS_URL = os.environ.get("REFLEX_REDIS_URL") or None

config = rx.Config(
    app_name="clinic_app",
    db_url=settings.database_url(),
    redis_url=REDIS_URL,
    # One worker keeps client states in memory (Reflex's default writes every state
    # change to disk, a file write per push); several workers share them in Redis.
    state_manager_mode=rx.constants.StateManagerMode.REDIS if REDIS_URL else rx.constants.StateManagerMode.MEMORY,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.SitemapPlugin(),
        rx.plugins.RadixThemesPlugin(theme=rx.theme(appearance="light", accent_color="indigo", radius="medium")),
    ],
)
