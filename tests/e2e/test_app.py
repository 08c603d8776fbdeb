"""The app as `make run` starts it: it answers, and signing in works and refuses."""

from __future__ import annotations

import re
import urllib.request

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_the_app_answers_like_make_run_serves_it(app_server):
    base, _ = app_server
    with urllib.request.urlopen(base + "/ping", timeout=5) as r:
        assert r.read() == b'"pong"'
    with urllib.request.urlopen(base + "/login", timeout=5) as r:
        assert r.status == 200 and b"<html" in r.read().lower()


def sign_in(page, base, username, password="clinic-demo"):
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_bad_password_says_so_and_nothing_more(page, app_server):
    base, _ = app_server
    sign_in(page, base, "reception", "not the password")
    expect(page.get_by_role("alert")).to_have_text("Username or password is incorrect.")
    expect(page).to_have_url(re.compile(r"/login/?$"))


def test_each_role_lands_on_its_page_and_is_kept_off_the_others(page, app_server):
    base, _ = app_server
    sign_in(page, base, "biller")
    expect(page.get_by_role("heading", name="Billing queue")).to_be_visible()
    page.goto(base + "/chart")  # a clinician's page: the biller is sent back
    expect(page).to_have_url(re.compile(r"/billing/?$"))
    page.reload()  # the session survives a reload
    expect(page.get_by_role("heading", name="Billing queue")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/?$"))
    page.goto(base + "/billing")
    expect(page).to_have_url(re.compile(r"/login/?$"))
