"""The admin's pages in a real browser at 1366x768: the audit log searched for people (by
username and by MRN, names shown, CSV of the search), a temporary password set in one step,
billing's account look-up by name, and every admin page titled, iconed and axe-clean."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from clinic_app.db import make_engine
from clinic_app.models import Patient
from clinic_app.services.platform import auth
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e
DESK = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def people(app_server) -> dict:
    """Two patients and a desk account of this module's own (the demo's data stays as it is)."""
    _, db = app_server
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        linda = Patient(mrn="A2E1", first_name="Linda", last_name="Mooreland", birth_date=dt.date(1961, 3, 14), phone="555-300-4411")
        lou = Patient(mrn="A2E2", first_name="Lou", last_name="Mooreland", birth_date=dt.date(1990, 7, 2))
        s.add_all([linda, lou])
        s.commit()
        auth.create_user(s, actor=None, username="a2e_desk", full_name="Dana Whitfield", password=PASSWORD, role="reception")
        ids = {"linda": linda.id, "lou": lou.id}
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()
    return ids


def _page(browser, username: str, base: str, password: str = "clinic-demo"):
    page = browser.new_context(viewport=DESK, accept_downloads=True).new_page()
    sign_in(page, base, username, password)
    return page


def test_the_audit_log_is_searched_by_username_and_by_mrn_and_shows_names(browser, app_server, people, tmp_path):
    base, _ = app_server
    desk = _page(browser, "a2e_desk", base, PASSWORD)
    desk.goto(base + f"/patients/{people['linda']}")  # a view of Linda's profile: audited with her id
    expect(desk.get_by_role("heading", name=re.compile("Mooreland"))).to_be_visible()

    admin = _page(browser, "admin", base)
    admin.goto(base + "/admin/audit")
    expect(admin.get_by_role("heading", name="Audit log")).to_be_visible()
    # What answered "That request was not understood; reload the page" before: a username.
    admin.get_by_label("User (username or name)").fill("a2e_desk")
    admin.get_by_role("button", name="Search audit log").click()
    row = admin.locator("#audit-table").get_by_role("row").filter(has_text="patient_profile")
    expect(row).to_contain_text("Dana Whitfield (a2e_desk)")
    expect(row).to_contain_text("Mooreland, Linda (MRN A2E1)")
    expect(admin.get_by_role("alert")).to_have_count(0)

    # By MRN (any case), with no user: every row about Linda, named.
    admin.get_by_label("User (username or name)").fill("")
    admin.get_by_label("Patient (name, MRN or date of birth)").fill("a2e1")
    admin.get_by_role("button", name="Search audit log").click()
    expect(admin.locator("#audit-total")).to_have_text(re.compile(r"^[1-9]\d* matching rows? "))
    rows = admin.locator("#audit-table tbody tr")
    expect(rows.filter(has_not_text="Mooreland, Linda (MRN A2E1)")).to_have_count(0)  # the new answer only
    expect(rows.first).to_contain_text("Mooreland, Linda (MRN A2E1)")
    assert_accessible(admin, "the audit log searched by MRN")
    screenshot(admin, "audit-by-mrn-1366")

    with admin.expect_download() as info:
        admin.get_by_role("button", name="Download these rows as CSV").click()
    path = Path(tmp_path / "audit.csv")
    info.value.save_as(path)
    assert info.value.suggested_filename.startswith("audit-log-")
    found = list(csv.DictReader(io.StringIO(path.read_text())))
    assert found and all(r["patient"] == "Mooreland, Linda (MRN A2E1)" for r in found)
    assert any(r["user"] == "Dana Whitfield (a2e_desk)" and r["record"].startswith("patient_profile") for r in found)

    # The demo desk's username, as the issue typed it: names, no error.
    _page(browser, "reception", base)  # a sign-in: audited
    admin.get_by_label("Patient (name, MRN or date of birth)").fill("")
    admin.get_by_label("User (username or name)").fill("reception")
    admin.get_by_role("button", name="Search audit log").click()
    expect(admin.locator("#audit-table tbody tr").first).to_contain_text("Rita Alvarez (reception)")
    expect(admin.get_by_role("alert")).to_have_count(0)
    screenshot(admin, "audit-by-username-1366")


def test_a_temporary_password_is_set_in_one_step(browser, app_server, people):
    base, _ = app_server
    admin = _page(browser, "admin", base)
    expect(admin.get_by_role("heading", name="User accounts")).to_be_visible()
    admin.get_by_role("button", name="Set temporary password for Dana Whitfield (a2e_desk)").click()
    dialog = admin.get_by_role("dialog")
    expect(dialog).to_contain_text("Dana Whitfield (a2e_desk)")
    dialog.get_by_label("Temporary password").fill("short")  # refused beside the field; nothing changed
    dialog.get_by_role("button", name="Set temporary password").click()
    expect(dialog.get_by_role("alert")).to_contain_text("at least 10 characters")
    assert_accessible(admin, "the temporary-password dialog")
    screenshot(admin, "admin-temporary-password-1366")
    # Typed and pressed at once: no other field first.
    dialog.get_by_label("Temporary password").fill("fresh temp pass 9")
    dialog.get_by_role("button", name="Set temporary password").click()
    expect(admin.get_by_role("status")).to_contain_text("Temporary password set for Dana Whitfield (a2e_desk)")
    expect(admin.get_by_role("dialog")).to_have_count(0)
    expect(admin.get_by_role("row").filter(has_text="a2e_desk")).to_contain_text("Must change password")

    desk = browser.new_context(viewport=DESK).new_page()
    sign_in(desk, base, "a2e_desk", "fresh temp pass 9")
    expect(desk.get_by_role("heading", name="Change your password")).to_be_visible()


def test_billing_finds_a_patients_account_by_name_birth_date_or_phone(browser, app_server, people):
    base, _ = app_server
    page = _page(browser, "biller", base)
    expect(page.get_by_role("heading", name="Billing queue")).to_be_visible()
    box = page.get_by_label("Patient MRN, name, date of birth or phone")
    box.fill("Mooreland")  # two patients: listed, one chosen
    page.get_by_role("button", name="Find account").click()
    choice = page.get_by_role("button", name="Open the account of Mooreland, Linda (MRN A2E1, born 1961-03-14)")
    expect(choice).to_be_visible()
    choice.click()
    expect(page.get_by_text("Mooreland, Linda (A2E1)", exact=True)).to_be_visible()
    for text in ("03/14/1961", "555-300-4411", "mooreland, lou"):
        box.fill(text)
        page.get_by_role("button", name="Find account").click()
        name = "Mooreland, Lou (A2E2)" if "lou" in text else "Mooreland, Linda (A2E1)"
        expect(page.get_by_text(name, exact=True)).to_be_visible()
    box.fill("Nobody Atall")
    page.get_by_role("button", name="Find account").click()
    expect(page.get_by_role("alert")).to_contain_text("No patient matches 'Nobody Atall'")

    admin = _page(browser, "admin", base)  # each look-up is audited as the desk's searches are
    admin.goto(base + "/admin/audit")
    admin.get_by_label("User (username or name)").fill("biller")
    admin.get_by_label("Action starts with").fill("search")
    admin.get_by_role("button", name="Search audit log").click()
    expect(admin.locator("#audit-table tbody tr").first).to_contain_text("'Nobody Atall': 0 found")


ADMIN_PAGES = [
    ("/admin/users", "Users | Clinic", "User accounts"),
    ("/admin/audit", "Audit log | Clinic", "Audit log"),
    ("/admin/templates", "Note templates | Clinic", None),
    ("/admin/measures", "Outcome measures | Clinic", None),
    ("/api-tokens", "API tokens | Clinic", None),
]


def test_every_admin_page_has_a_title_an_icon_and_passes_axe(browser, app_server):
    base, _ = app_server
    for icon in ("/favicon.ico", "/favicon.svg"):
        with urllib.request.urlopen(base + icon, timeout=5) as r:
            assert r.status == 200 and len(r.read()) > 100, icon
    admin = _page(browser, "admin", base)
    for path, title, heading in ADMIN_PAGES:
        admin.goto(base + path)
        expect(admin).to_have_title(title)
        if heading:
            expect(admin.get_by_role("heading", name=heading)).to_be_visible()
        admin.wait_for_load_state("networkidle")
        assert admin.locator("link[rel='icon']").get_attribute("href") == "/favicon.svg"
        assert_accessible(admin, path)
    for path, title in (("/login", "Sign in | Clinic"),):
        page = browser.new_context(viewport=DESK).new_page()
        page.goto(base + path)
        expect(page).to_have_title(title)
