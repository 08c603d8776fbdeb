"""Reflex configuration: the clinic database and, for several workers, Redis."""

import os

import reflex as rx

from clinic_app import settings

config = rx.Config(
    app_name="clinic_app",
    db_url=settings.database_url(),
    redis_url=os.environ.get("REFLEX_REDIS_URL") or None,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.SitemapPlugin(),
        rx.plugins.RadixThemesPlugin(theme=rx.theme(appearance="light", accent_color="indigo", radius="medium")),
    ],
)
