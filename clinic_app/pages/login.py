"""Sign-in page."""

import reflex as rx

from clinic_app.state.auth import AuthState


def login() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Sign in to the clinic", size="6"),
                    rx.el.label("Username", html_for="username"),
                    rx.input(id="username", name="username", auto_complete="username", required=True,
                             max_length=64, size="3", width="100%", auto_focus=True),
                    rx.el.label("Password", html_for="password"),
                    rx.input(id="password", name="password", type="password", auto_complete="current-password",
                             required=True, max_length=256, size="3", width="100%"),
                    rx.cond(
                        AuthState.login_error != "",
                        rx.callout(AuthState.login_error, color_scheme="red", role="alert", width="100%"),
                    ),
                    rx.button("Sign in", type="submit", size="3", width="100%", min_height="44px"),
                    spacing="3",
                    width="320px",
                ),
                on_submit=AuthState.sign_in,
                reset_on_submit=False,
            ),
        ),
        min_height="90vh",
    )
