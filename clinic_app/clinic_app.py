"""The Reflex app: pages, the live listener and the FHIR API mounted on its backend."""

import reflex as rx

from clinic_app import reminder_worker, routes, tasks_worker, upkeep
from clinic_app.api import build_api, guard
from clinic_app.pages.admin import audit_page, password_page, users_page
from clinic_app.pages.api_tokens import api_tokens_page
from clinic_app.pages.billing import billing_page
from clinic_app.pages.billing_setup import billing_setup_page
from clinic_app.pages.board import board_page
from clinic_app.pages.chart import chart_page
from clinic_app.pages.charting_admin import clinicians_page, measures_page, templates_page
from clinic_app.pages.intake import intake_page
from clinic_app.pages.kpi import kpi_page
from clinic_app.pages.login import login
from clinic_app.pages.messages import messages_page
from clinic_app.pages.patient_profile import new_patient_page, profile_page
from clinic_app.pages.portal import portal_book, portal_checkin, portal_home, portal_sign_in, portal_welcome
from clinic_app.pages.portal_admin import online_booking_page
from clinic_app.pages.portal_care import portal_care
from clinic_app.pages.portal_messages import portal_messages
from clinic_app.pages.portal_pay import portal_pay
from clinic_app.pages.portal_profile import portal_profile
from clinic_app.pages.portal_register import portal_register, portal_register_verify, registrations_page
from clinic_app.pages.tasks import tasks_page
from clinic_app.pages.waitlist import waitlist_page
from clinic_app.state import live_push, sessions
from clinic_app.state.admin import AccountState, AuditState, UsersState
from clinic_app.state.api_tokens import ApiTokenState
from clinic_app.state.auth import AuthState
from clinic_app.state.billing import BillingQueueState
from clinic_app.state.billing_setup import BillingSetupState
from clinic_app.state.calendar import CalendarState
from clinic_app.state.calendar_feed import CalendarFeedState
from clinic_app.state.chart import ChartState
from clinic_app.state.charting_admin import ClinicianAdminState, IntakeAdminState, MeasureAdminState, TemplateAdminState
from clinic_app.state.intake import IntakeState
from clinic_app.state.kpi import KpiState, warm_up
from clinic_app.state.messages import MessagesState
from clinic_app.state.patient_profile import ProfileState
from clinic_app.state.portal import CheckinState, PortalState, WelcomeState
from clinic_app.state.portal_admin import OnlineBookingState
from clinic_app.state.portal_care import PortalCareState
from clinic_app.state.portal_messages import PortalMessagesState
from clinic_app.state.portal_pay import PortalPayState
from clinic_app.state.portal_profile import PortalProfileState
from clinic_app.state.portal_register import RegisterState, RegistrationsState, VerifyState
from clinic_app.state.registration import RegistrationState
from clinic_app.state.tasks import TaskInboxState
from clinic_app.state.waitlist import WaitlistState

# The FHIR routes (/fhir/...), sign-in (/auth/...) and attachment downloads sit in front of
# Reflex's own backend app; the guard (security headers, body limits, the /_upload check)
# wraps all of it (api_transformer).
# Every page links the clinic's icon (SVG, with the .ico for browsers that ask /favicon.ico).
ICONS = [
    rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
    rx.el.link(rel="alternate icon", href="/favicon.ico", sizes="32x32"),
]
app = rx.App(stylesheets=["/clinic.css"], head_components=ICONS, api_transformer=[build_api(), guard()])
app.add_page(rx.center(rx.text("Loading...")), route="/", title="Clinic", on_load=AuthState.go_home)
app.add_page(login, route=routes.LOGIN, title="Sign in | Clinic", on_load=AuthState.open_login)
app.add_page(board_page, route=routes.BOARD, title="Board | Clinic", on_load=CalendarState.load)
app.add_page(chart_page, route=routes.CHART, title="Chart | Clinic", on_load=ChartState.load)
app.add_page(billing_page, route=routes.BILLING, title="Billing | Clinic", on_load=BillingQueueState.load)
app.add_page(billing_setup_page, route=routes.BILLING_SETUP, title="Billing set-up | Clinic", on_load=BillingSetupState.load)
app.add_page(kpi_page, route=routes.KPI, title="Dashboard | Clinic", on_load=KpiState.load)
app.add_page(users_page, route=routes.ADMIN_USERS, title="Users | Clinic", on_load=UsersState.load)
app.add_page(audit_page, route=routes.ADMIN_AUDIT, title="Audit log | Clinic", on_load=AuditState.load)
app.add_page(templates_page, route=routes.ADMIN_TEMPLATES, title="Note templates | Clinic", on_load=[TemplateAdminState.load, IntakeAdminState.load])
app.add_page(clinicians_page, route=routes.ADMIN_CLINICIANS, title="Clinicians | Clinic", on_load=ClinicianAdminState.load)
app.add_page(measures_page, route=routes.ADMIN_MEASURES, title="Outcome measures | Clinic", on_load=MeasureAdminState.load)
app.add_page(password_page, route=routes.PASSWORD, title="Change password | Clinic", on_load=[AccountState.load, CalendarFeedState.load])
app.add_page(api_tokens_page, route=routes.API_TOKENS, title="API tokens | Clinic", on_load=ApiTokenState.load)
app.add_page(new_patient_page, route=routes.PATIENT_NEW, title="New patient | Clinic", on_load=RegistrationState.start_page)
app.add_page(profile_page, route=routes.PATIENT_PROFILE, title="Patient profile | Clinic", on_load=ProfileState.load)
app.add_page(waitlist_page, route=routes.WAITLIST, title="Waitlist | Clinic", on_load=WaitlistState.load)
app.add_page(messages_page, route=routes.MESSAGES, title="Messages | Clinic", on_load=MessagesState.load)
app.add_page(tasks_page, route=routes.TASKS, title="Tasks | Clinic", on_load=TaskInboxState.load)
app.add_page(intake_page, route=routes.INTAKE, title="Your forms | Clinic", on_load=IntakeState.open)
# The patient portal (pages/portal.py): its own sign-in and session cookie (api/portal.py).
app.add_page(portal_sign_in, route=routes.PORTAL, title="Patient portal | Clinic")
app.add_page(portal_welcome, route=routes.PORTAL_WELCOME, title="Welcome | Patient portal", on_load=WelcomeState.load)
app.add_page(portal_register, route=routes.PORTAL_REGISTER, title="Register | Patient portal", on_load=RegisterState.load)
app.add_page(portal_register_verify, route=routes.PORTAL_REGISTER_VERIFY, title="Confirm your e-mail | Patient portal",
             on_load=VerifyState.load)
app.add_page(portal_home, route=routes.PORTAL_HOME, title="My visits | Patient portal", on_load=PortalState.load_home)
app.add_page(portal_book, route=routes.PORTAL_BOOK, title="Book a visit | Patient portal", on_load=PortalState.load_book)
app.add_page(portal_checkin, route=routes.PORTAL_CHECKIN, title="Check in | Patient portal", on_load=CheckinState.load)
app.add_page(portal_messages, route=routes.PORTAL_MESSAGES, title="Messages | Patient portal", on_load=PortalMessagesState.load)
app.add_page(portal_pay, route=routes.PORTAL_PAY, title="Pay | Patient portal", on_load=PortalPayState.load)
app.add_page(portal_care, route=routes.PORTAL_CARE, title="My care | Patient portal", on_load=PortalCareState.load)
app.add_page(portal_profile, route=routes.PORTAL_PROFILE, title="My details | Patient portal", on_load=PortalProfileState.load)
app.add_page(online_booking_page, route=routes.ONLINE_BOOKING, title="Online booking | Clinic",
             on_load=OnlineBookingState.load)
app.add_page(registrations_page, route=routes.PORTAL_REGISTRATIONS, title="Portal registrations | Clinic",
             on_load=RegistrationsState.load)
live_push.install(app)
sessions.install(app)  # every event checks the tab's session first
app.register_lifespan_task(reminder_worker.run)
app.register_lifespan_task(upkeep.run)
app.register_lifespan_task(tasks_worker.listen)  # task rules on the live bus
app.register_lifespan_task(warm_up)  # the KPI dashboard's first load after start-up
