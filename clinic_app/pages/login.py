"""Sign-in page.

The form is sent to ``POST /auth/sign-in`` (api/signin.py) by /clinic-login.js, not through
the Reflex socket: the server answers with the HttpOnly session cookie, and the page then
loads the user's home page afresh (a new socket, opened with the cookie, and a new client
token). A refusal is shown in the alert below the fields.
"""

import reflex as rx
from reflex.config import get_config


def login() -> rx.Component:
    return rx.center(
        rx.card(
            rx.el.form(
                rx.vstack(
                    rx.heading("Sign in to the clinic", size="6"),
                    rx.el.label("Username", html_for="username"),
                    rx.input(id="username", name="username", auto_complete="username", required=True,
                             max_length=64, size="3", width="100%", auto_focus=True),
                    rx.el.label("Password", html_for="password"),
                    rx.input(id="password", name="password", type="password", auto_complete="current-password",
                             required=True, max_length=256, size="3", width="100%"),
                    # Filled in by /clinic-login.js with the server's answer; announced at once.
                    rx.el.p(id="sign-in-error", role="alert", aria_live="assertive",
                            style={"color": "var(--red-11)", "margin": "0", "minHeight": "1.5em"}),
                    rx.button("Sign in", type="submit", size="3", width="100%", min_height="44px"),
                    spacing="3",
                    width="320px",
                ),
                id="sign-in-form",
                action="/auth/sign-in",
                method="post",
                custom_attrs={"data-backend": get_config().api_url},
            ),
        ),
        rx.script(src="/clinic-login.js"),
        min_height="90vh",
    )

