"""Incoming FHIR resources checked against FHIR R4 4.0.1 before anything is stored.

What is checked, and with what:

- Structure, with **fhirclient 4.3.1's models** (generated from FHIR R4 4.0.1) in strict mode:
  an element R4 does not define (``"foo"``, or ``"gender"`` on a Coding), a wrong type (a
  number where R4 has a string, an object where it has a list), a missing required element
  (``Appointment.participant``), a date, dateTime, instant or time in a wrong format.
- Codes of **required bindings** (R4 4.0.1 terminology bindings of strength "required") of the
  resources this server takes and the data types inside them: ``Patient.gender`` must be one
  of male | female | other | unknown, ``ContactPoint.system`` one of phone | fax | email |
  pager | url | sms | other, and so on (``REQUIRED`` below; each value set's R4 page is named).
  fhirclient's models carry no bindings, so the value sets are listed here; a test compares
  them with the ``enum_values`` of fhir.resources 8.3.0's R4B models.
- ``Resource.id`` against R4's id pattern (1-64 of ``A-Z a-z 0-9 - .``).

A problem raises ``InvalidResource`` whose ``issues`` name each path (``Patient.telecom[0].system``),
so the API answers 400 with an OperationOutcome holding one issue per problem.
"""

from __future__ import annotations

import importlib
import re
from functools import cache

from clinic_app.services.platform.errors import InvalidInput

MAX_ISSUES = 20
ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
MIME_RE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;.*)?$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")

_GENDER = ("administrative-gender", {"male", "female", "other", "unknown"})
_FM_STATUS = ("fm-status", {"active", "cancelled", "draft", "entered-in-error"})
_DAYS = ("days-of-week", {"mon", "tue", "wed", "thu", "fri", "sat", "sun"})
_UNITS_OF_TIME = ("units-of-time", {"s", "min", "h", "d", "wk", "mo", "a"})

# (fhirclient class, element) -> (R4 value set, its codes): the required bindings on ``code``
# elements of the resources this server takes (and of the data types they hold).
REQUIRED: dict[tuple[str, str], tuple[str, set[str]]] = {
    # data types
    ("ContactPoint", "system"): ("contact-point-system", {"phone", "fax", "email", "pager", "url", "sms", "other"}),
    ("ContactPoint", "use"): ("contact-point-use", {"home", "work", "temp", "old", "mobile"}),
    ("HumanName", "use"): ("name-use", {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"}),
    ("Identifier", "use"): ("identifier-use", {"usual", "official", "temp", "secondary", "old"}),
    ("Address", "use"): ("address-use", {"home", "work", "temp", "old", "billing"}),
    ("Address", "type"): ("address-type", {"postal", "physical", "both"}),
    ("Narrative", "status"): ("narrative-status", {"generated", "extensions", "additional", "empty"}),
    ("Quantity", "comparator"): ("quantity-comparator", {"<", "<=", ">=", ">"}),
    ("TimingRepeat", "durationUnit"): _UNITS_OF_TIME,
    ("TimingRepeat", "periodUnit"): _UNITS_OF_TIME,
    ("TimingRepeat", "dayOfWeek"): _DAYS,
    # resources
    ("Patient", "gender"): _GENDER,
    ("PatientContact", "gender"): _GENDER,
    ("PatientLink", "type"): ("link-type", {"replaced-by", "replaces", "refer", "seealso"}),
    ("Practitioner", "gender"): _GENDER,
    ("Appointment", "status"): ("appointmentstatus", {
        "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow", "entered-in-error",
        "checked-in", "waitlist"}),
    ("AppointmentParticipant", "required"): ("participantrequired", {"required", "optional", "information-only"}),
    ("AppointmentParticipant", "status"): ("participationstatus", {"accepted", "declined", "tentative", "needs-action"}),
    ("Bundle", "type"): ("bundle-type", {
        "document", "message", "transaction", "transaction-response", "batch", "batch-response", "history",
        "searchset", "collection"}),
    ("BundleEntryRequest", "method"): ("http-verb", {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}),
    ("BundleEntrySearch", "mode"): ("search-entry-mode", {"match", "include", "outcome"}),
    ("Location", "status"): ("location-status", {"active", "suspended", "inactive"}),
    ("Location", "mode"): ("location-mode", {"instance", "kind"}),
    ("LocationHoursOfOperation", "daysOfWeek"): _DAYS,
    ("Encounter", "status"): ("encounter-status", {
        "planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error", "unknown"}),
    ("EncounterStatusHistory", "status"): ("encounter-status", {
        "planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error", "unknown"}),
    ("EncounterLocation", "status"): ("encounter-location-status", {"planned", "active", "reserved", "completed"}),
    ("Claim", "status"): _FM_STATUS,
    ("Claim", "use"): ("claim-use", {"claim", "preauthorization", "predetermination"}),
    ("Coverage", "status"): _FM_STATUS,
    ("DocumentReference", "status"): ("document-reference-status", {"current", "superseded", "entered-in-error"}),
    ("DocumentReference", "docStatus"): ("composition-status", {"preliminary", "final", "amended", "entered-in-error"}),
    ("DocumentReferenceRelatesTo", "code"): ("document-relationship-type", {"replaces", "transforms", "signs", "appends"}),
    ("Observation", "status"): ("observation-status", {
        "registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}),
    ("AllergyIntolerance", "type"): ("allergy-intolerance-type", {"allergy", "intolerance"}),
    ("AllergyIntolerance", "category"): ("allergy-intolerance-category", {"food", "medication", "environment", "biologic"}),
    ("AllergyIntolerance", "criticality"): ("allergy-intolerance-criticality", {"low", "high", "unable-to-assess"}),
    ("AllergyIntoleranceReaction", "severity"): ("reaction-event-severity", {"mild", "moderate", "severe"}),
    ("MedicationStatement", "status"): ("medication-statement-status", {
        "active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken"}),
}

# (fhirclient class, element) -> (value set, code system, codes): required bindings on CodeableConcepts.
REQUIRED_CONCEPTS: dict[tuple[str, str], tuple[str, str, set[str]]] = {
    ("Condition", "clinicalStatus"): ("condition-clinical", "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                      {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}),
    ("Condition", "verificationStatus"): ("condition-ver-status", "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                          {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"}),
    ("AllergyIntolerance", "clinicalStatus"): (
        "allergyintolerance-clinical", "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
        {"active", "inactive", "resolved"}),
    ("AllergyIntolerance", "verificationStatus"): (
        "allergyintolerance-verification", "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
        {"unconfirmed", "confirmed", "refuted", "entered-in-error"}),
}


class InvalidResource(InvalidInput):
    """A resource is not valid FHIR R4 4.0.1; ``issues`` holds (FHIRPath, message) per problem."""

    def __init__(self, issues: list[tuple[str, str]], prefix: str = "", suffix: str = ""):
        self.issues = issues[:MAX_ISSUES]
        first = f"{issues[0][0]}: {issues[0][1]}"
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(f"{prefix}This is not valid FHIR R4 (4.0.1): {first}{more}.{suffix}")


@cache
def _model(resource_type: str):
    try:
        module = importlib.import_module(f"fhirclient.models.{resource_type.lower()}")
        return getattr(module, resource_type)
    except (ImportError, AttributeError):
        return None


def validate(resource, *, expected: str | None = None, prefix: str = "", path: str | None = None) -> None:
    """Raise InvalidResource unless ``resource`` is a valid R4 4.0.1 resource (of type ``expected``)."""
    from fhirclient.models.fhirabstractbase import FHIRValidationError

    if not isinstance(resource, dict):
        raise InvalidInput(f"{prefix}Send a FHIR resource (a JSON object).")
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or _model(kind) is None or not re.fullmatch(r"[A-Z][A-Za-z]{1,63}", kind):
        raise InvalidResource([("resourceType", f"{str(kind)[:40]!r} is not a FHIR R4 resource type")], prefix)
    if expected and kind != expected:
        raise InvalidInput(f"{prefix}The body's resourceType must be {expected}.")
    try:
        parsed = _model(kind)(resource, strict=True)
    except FHIRValidationError as exc:
        raise InvalidResource(_flatten(exc, path or kind), prefix) from None
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        raise InvalidResource([(path or kind, f"cannot be read ({type(exc).__name__})")], prefix) from None
    issues: list[tuple[str, str]] = []
    _walk(parsed, path or kind, issues)
    if issues:
        raise InvalidResource(issues, prefix)


def _flatten(error, path: str) -> list[tuple[str, str]]:
    """fhirclient's nested FHIRValidationError as (FHIRPath, plain message) pairs."""
    from fhirclient.models.fhirabstractbase import FHIRValidationError

    found: list[tuple[str, str]] = []

    def join(base: str, step: str | None) -> str:
        if not step:
            return base
        out = base
        for part in step.split("."):
            out = f"{out}[{part}]" if part.isdigit() else f"{out}.{part}"
        return out

    def walk(err, at: str) -> None:
        for inner in err.errors:
            if isinstance(inner, FHIRValidationError):
                walk(inner, join(at, inner.path))
            else:
                found.append(_leaf(inner, at))

    walk(error, join(path, error.path))
    return found or [(path, "is not valid")]


def _leaf(exc: Exception, at: str) -> tuple[str, str]:
    text = str(exc)
    if (m := re.search(r'Superfluous entry "([^"]+)"', text)) is not None:
        return f"{at}.{m[1]}", "is not an element FHIR R4 defines here"
    if (m := re.search(r'Non-optional property "([^"]+)"', text)) is not None:
        return f"{at}.{m[1]}", "is required"
    if (m := re.search(r'Wrong type <class \'([^\']+)\'> for (list )?property "([^"]+)".*expecting (a list of )?<class \'([^\']+)\'>', text)):
        want = m[5].rsplit(".", 1)[-1]
        words = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false", "dict": "an object"}
        kind = words.get(want, f"a {want} object")
        # fhirclient names the property in the path already (``name.0.family``).
        return at, "must be a list" if m[4] else f"must be {kind}"
    if "expected format" in text:
        return at, "is not in the format FHIR R4 requires (e.g. a date 2030-03-12, an instant 2030-03-12T14:00:00Z)"
    if isinstance(exc, ValueError) and ("out of range" in text or "must be in" in text):
        return at, f"is not a date and time that exists ({text[:60]})"
    return at, "is not valid"


def _class_names(obj) -> list[str]:
    return [c.__name__ for c in type(obj).__mro__]


def _walk(obj, path: str, issues: list[tuple[str, str]]) -> None:
    """Check required bindings and ids over the parsed model tree, naming each path."""
    from fhirclient.models.fhirabstractbase import FHIRAbstractBase
    from fhirclient.models.fhirabstractresource import FHIRAbstractResource

    if len(issues) >= MAX_ISSUES:
        return
    names = _class_names(obj)
    if isinstance(obj, FHIRAbstractResource) and obj.id is not None and not ID_RE.match(str(obj.id)):
        issues.append((f"{path}.id", "must be 1-64 letters, digits, '-' or '.'"))
    if "Attachment" in names and obj.contentType is not None and not MIME_RE.match(obj.contentType):
        issues.append((f"{path}.contentType", f"{obj.contentType[:40]!r} is not a media type (BCP 13, e.g. text/plain)"))
    if "Money" in names and obj.currency is not None and not CURRENCY_RE.match(obj.currency):
        issues.append((f"{path}.currency", f"{obj.currency[:10]!r} is not an ISO 4217 currency code (e.g. USD)"))
    for name, jsname, _type, is_list, _of_many, _required in obj.elementProperties():
        value = getattr(obj, name, None)
        if value is None:
            continue
        at = f"{path}.{jsname}"
        values = list(enumerate(value)) if is_list else [(None, value)]
        binding = next((REQUIRED[(n, jsname)] for n in names if (n, jsname) in REQUIRED), None)
        concept = next((REQUIRED_CONCEPTS[(n, jsname)] for n in names if (n, jsname) in REQUIRED_CONCEPTS), None)
        for index, item in values:
            where = at if index is None else f"{at}[{index}]"
            if binding is not None and isinstance(item, str) and item not in binding[1]:
                issues.append((where, f"{item[:40]!r} is not in the R4 value set {binding[0]} "
                                      f"({' | '.join(sorted(binding[1]))})"))
            elif concept is not None and isinstance(item, FHIRAbstractBase):
                codings = [c for c in (getattr(item, "coding", None) or []) if c.system == concept[1]]
                if not any(c.code in concept[2] for c in codings):
                    issues.append((where, f"needs a coding from {concept[1]} ({' | '.join(sorted(concept[2]))}); "
                                          "the binding is required"))
            if isinstance(item, FHIRAbstractBase):
                _walk(item, where, issues)
