"""The FHIR R4 REST interface: HTTP in, services/interop/fhir/ calls (mapping, search, write, bulk), FHIR JSON out.

Each request names its user by a bearer API token (services/platform/api_tokens.py); the
token's scopes and the user's role must both allow the call. Errors come back as an
OperationOutcome with the domain error's message and change nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import re
import secrets
import shutil
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route, request_response

from clinic_app import db, settings
from clinic_app.db import utcnow
from clinic_app.services.interop.fhir import bulk as fhir_bulk
from clinic_app.services.interop.fhir import mapping as fhir_map
from clinic_app.services.interop.fhir import search as fhir_search
from clinic_app.services.interop.fhir import write as fhir_write
from clinic_app.services.platform import api_tokens, audit
from clinic_app.services.platform.auth import actor_for
from clinic_app.services.platform.errors import (
    ClinicError,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NoteAlreadySigned,
    NotFound,
    SlotTaken,
)
from clinic_app.services.platform.permissions import require
from clinic_app.services.portal import slots

log = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"
# A request body (one resource, or a transaction Bundle) is read only after the token was
# checked, and at most CLINIC_FHIR_MAX_BYTES of it (1 MB; the guard in front cuts a longer one
# off too): a whole clinic is imported with `python -m clinic_app fhir import`, not over HTTP.
MAX_BODY = settings.FHIR_MAX_BYTES
JOB_RE = re.compile(r"^[0-9a-f]{32}$")
EXPORT_HOURS = 24
STALE_EXPORT_SECONDS = 3600

_STATUS = {InvalidInput: 400, NotFound: 404, NotAllowed: 403, SlotTaken: 409, IllegalTransition: 409, NoteAlreadySigned: 409}
_ISSUE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported", 406: "not-supported",
          409: "conflict", 413: "too-long", 415: "not-supported"}


def outcome(status: int, message: str, headers: dict | None = None, issues: list[tuple[str, str]] | None = None) -> JSONResponse:
    """An OperationOutcome response; ``issues`` (FHIRPath, problem) adds one issue per path."""
    found = [{"severity": "error", "code": _ISSUE.get(status, "exception"), "diagnostics": message}]
    if issues:  # the first issue says it all in words; each path has its own issue
        found = [{"severity": "error", "code": "structure" if "element" in problem or "must be" in problem else "code-invalid",
                  "diagnostics": message if n == 0 else f"{path}: {problem}", "expression": [path]}
                 for n, (path, problem) in enumerate(issues)]
    body = {"resourceType": "OperationOutcome", "issue": found}
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


# What this server answers in (http.html "Content Types and encodings"): JSON, and NDJSON for bulk files.
JSON_FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir",
                "ndjson", "application/ndjson", "application/fhir+ndjson"}


def _accepts_json(accept: str) -> bool:
    """Whether an Accept header lets the server answer JSON (q=0 excludes a type)."""
    for media_range in accept.split(","):
        kind, *params = [part.strip().lower() for part in media_range.split(";")]
        quality = next((p.partition("=")[2] for p in params if p.startswith("q=")), "1")
        try:
            wanted = float(quality) > 0
        except ValueError:
            wanted = True
        if wanted and (kind in JSON_FORMATS or kind in ("*/*", "application/*", "")):
            return True
    return False


def not_acceptable(request: Request) -> Response | None:
    """406 when ``_format`` or Accept asks for anything but JSON (XML, Turtle, HTML)."""
    wanted = request.query_params.get("_format")
    if wanted is not None and wanted.split(";")[0].strip().lower() not in JSON_FORMATS:
        return outcome(406, f"_format {wanted[:40]!r} is not offered: this server answers in JSON (application/fhir+json) only.")
    accept = request.headers.get("accept")
    if accept and not _accepts_json(accept):
        return outcome(406, f"Accept {accept[:60]!r} is not offered: this server answers in JSON (application/fhir+json) only.")
    return None


def fhir_endpoint(endpoint: Callable) -> Callable:
    """An endpoint that negotiates the format (406) and answers HEAD with GET's status and headers only."""
    async def wrapped(request: Request) -> Response:
        refused = not_acceptable(request)
        response = refused or await endpoint(request)
        if request.method == "HEAD" and hasattr(response, "body"):
            return Response(status_code=response.status_code, headers=dict(response.headers))
        return response

    return wrapped


class AnyMethod:
    """An endpoint as an ASGI app, so that its Route takes every method (Starlette gives a plain
    function route GET only): /fhir and unknown paths answer PATCH, TRACE or FOO in FHIR too."""

    def __init__(self, endpoint: Callable):
        self.app = request_response(endpoint)

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)


def lenient(request: Request) -> bool:
    """``Prefer: handling=lenient`` (search.html: ignore parameters the server does not know)."""
    return "handling=lenient" in request.headers.get("prefer", "").replace(" ", "").lower()


def fhir_json(body: dict, status: int = 200, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


class _Unauthorised(Exception):
    pass


class FhirApi:
    """The routes, bound to an engine (the app's, or a test database's)."""

    def __init__(self, get_engine: Callable[[], Engine] = db.engine, export_dir: Path | None = None,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.get_engine = get_engine
        self.export_dir = export_dir or settings.export_dir()
        self.clock = clock  # tests set the clinic's "now"; booking rules depend on it

    # -- plumbing -----------------------------------------------------------------
    def base(self, request: Request) -> str:
        return str(request.base_url).rstrip("/") + "/fhir"

    def source(self, request: Request) -> str:
        return f"api {request.client.host if request.client else ''}".strip()

    def grant(self, session: Session, request: Request) -> api_tokens.TokenGrant:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Unauthorised("Send an API token: Authorization: Bearer <token>.")
        try:
            return api_tokens.grant_for(session, token=token.strip())
        except NotAllowed as exc:
            # A wrong, expired or revoked token is a security event: logged (never the token).
            session.rollback()
            db.for_write(session)
            audit.record(session, actor=None, action="api_token_refused", entity="api_token",
                         source=self.source(request), detail=f"{request.method} {request.url.path}"[:200])
            session.commit()
            raise _Unauthorised(str(exc)) from exc

    def scope(self, grant: api_tokens.TokenGrant, resource_type: str, mode: str) -> None:
        if not grant.permits(resource_type, mode):
            raise NotAllowed(f"This API token's scopes ({' '.join(grant.scopes)}) do not allow {mode} of {resource_type}.")

    def handle(self, request: Request, work: Callable[[Session, api_tokens.TokenGrant], Response], *,
               owned: bool = False) -> Response:
        """Check the token, then run ``work``; ``owned``: in one transaction of its own, all or
        nothing (db.one_transaction), the token checked (and a refusal audited) before it."""
        try:
            with Session(self.get_engine(), expire_on_commit=False) as session:
                try:
                    grant = self.grant(session, request)
                    if not owned:
                        response = work(session, grant)
                        session.commit()  # the API owns the transaction; the services only flush
                        return response
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
            with db.one_transaction(self.get_engine()) as session:
                return work(session, grant)
        except _Unauthorised as exc:
            return outcome(401, str(exc), {"WWW-Authenticate": 'Bearer realm="fhir"'})
        except ClinicError as exc:
            return outcome(_STATUS.get(type(exc), 400), str(exc), issues=getattr(exc, "issues", None))

    async def refused(self, request: Request) -> Response | None:
        """A 401 for a request whose token is not live, before its body is read (None if it is)."""
        return await _threaded(self.handle, request, lambda s, g: None)

    async def body(self, request: Request, limit: int = MAX_BODY):
        """The request's JSON object: at most ``limit`` bytes read as they stream in (BodyTooLarge
        past it), JSON nested at most CLINIC_JSON_MAX_DEPTH deep (InvalidInput otherwise)."""
        length = request.headers.get("content-length")
        if length and (not fhir_map.is_row_id(length) or int(length) > limit):
            raise BodyTooLarge(f"The request body is too large (at most {limit:,} bytes).")
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(f"The request body is too large (at most {limit:,} bytes).")
                chunks.append(chunk)
        except ClientDisconnect:  # the guard in front cut off a body past its limit
            raise BodyTooLarge(f"The request body is too large (at most {limit:,} bytes).") from None
        try:
            data = json.loads(b"".join(chunks))
        except RecursionError:
            raise InvalidInput(f"The request body is nested too deeply (at most {settings.JSON_MAX_DEPTH} levels).") from None
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("The request body is not JSON.") from None
        if not isinstance(data, dict):
            raise InvalidInput("The request body must be one FHIR resource (a JSON object).")
        if _depth(data) > settings.JSON_MAX_DEPTH:
            raise InvalidInput(f"The request body is nested too deeply (at most {settings.JSON_MAX_DEPTH} levels).")
        return data

    async def read(self, request: Request) -> dict | Response:
        """The token checked first, then the body: the body's JSON, or the response refusing it."""
        refused = await self.refused(request)
        if refused is not None:
            return refused
        try:
            return await self.body(request)
        except BodyTooLarge as exc:
            return outcome(413, str(exc))
        except InvalidInput as exc:
            return outcome(400, str(exc))

    # -- endpoints --------------------------------------------------------------------
    async def metadata(self, request: Request) -> Response:
        statement = fhir_search.capability_statement(self.base(request))
        statement["rest"][0]["resource"].append({
            "type": "Slot", "interaction": [{"code": "search-type"}],
            "documentation": "Free slots computed from working hours, time off, visits and rooms (never stored).",
            # Computed, never stored: no versions, no conditional operations (as every other type here).
            "versioning": "no-version", "readHistory": False, "updateCreate": False,
            "conditionalCreate": False, "conditionalRead": "not-supported", "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "searchParam": [{"name": "schedule", "type": "reference"}, {"name": "start", "type": "date"},
                            {"name": "status", "type": "token"}, {"name": "service-type", "type": "token"},
                            {"name": "_count", "type": "number"}],
        })
        return fhir_json(statement)

    async def slot_search(self, request: Request) -> Response:
        params = list(request.query_params.multi_items())

        def work(session, grant):
            self.scope(grant, "Slot", "read")
            return fhir_json(slots.search(session, actor=actor_for(grant.user), params=params,
                                          base_url=self.base(request), now=self.clock()))

        return await _threaded(self.handle, request, work)

    async def type_level(self, request: Request) -> Response:
        resource_type = request.path_params["type"]
        if request.method in ("GET", "HEAD"):
            params = list(request.query_params.multi_items())
            return await _threaded(self.handle, request, lambda s, g: self._search(s, g, request, resource_type, params))
        if request.headers.get("if-none-exist"):
            return outcome(400, "Conditional create (If-None-Exist) is not supported; search first, then create.")
        resource = await self.read(request)
        if isinstance(resource, Response):
            return resource
        return await _threaded(self.handle, request, lambda s, g: self._create(s, g, request, resource_type, resource))

    async def instance_level(self, request: Request) -> Response:
        resource_type, ident = request.path_params["type"], request.path_params["id"]
        if request.method in ("GET", "HEAD"):
            return await _threaded(self.handle, request, lambda s, g: self._read(s, g, request, resource_type, ident))
        if request.headers.get("if-match"):
            return outcome(400, "This server keeps no versions (CapabilityStatement: versioning no-version), so it "
                                "cannot check If-Match; send the update without it.")
        resource = await self.read(request)
        if isinstance(resource, Response):
            return resource
        return await _threaded(self.handle, request, lambda s, g: self._update(s, g, request, resource_type, ident, resource))

    async def transaction(self, request: Request) -> Response:
        bundle = await self.read(request)
        if isinstance(bundle, Response):
            return bundle
        # The whole Bundle in one transaction of its own: all of it, or nothing.
        return await _threaded(self.handle, request, lambda s, g: self._transaction(s, g, request, bundle), owned=True)

    async def search_post(self, request: Request) -> Response:
        """POST [type]/_search: the parameters in an application/x-www-form-urlencoded body (and the URL)."""
        resource_type = request.path_params["type"]
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            raw = await _read_capped(request, MAX_BODY)
            if raw and kind != "application/x-www-form-urlencoded":
                return outcome(415, "Send the search parameters as application/x-www-form-urlencoded.")
            form = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return outcome(400, "The form is not UTF-8 text.")
        except InvalidInput as exc:
            return outcome(400, str(exc))
        params = [*request.query_params.multi_items(), *form]
        return await _threaded(self.handle, request, lambda s, g: self._search(s, g, request, resource_type, params))

    def _search(self, session, grant, request, resource_type, params) -> Response:
        if resource_type not in fhir_search.TYPES:
            raise NotFound(f"This server has no {resource_type[:40]!r} resources; see /fhir/metadata.")
        self.scope(grant, resource_type, "read")
        bundle = fhir_search.search(session, actor=actor_for(grant.user), resource_type=resource_type, params=params,
                             base_url=self.base(request), source=self.source(request), lenient=lenient(request))
        return fhir_json(bundle)

    def _read(self, session, grant, request, resource_type, ident) -> Response:
        if resource_type not in fhir_search.TYPES:
            raise NotFound(f"This server has no {resource_type[:40]!r} resources; see /fhir/metadata.")
        self.scope(grant, resource_type, "read")
        resource = fhir_search.read(session, actor=actor_for(grant.user), resource_type=resource_type, resource_id=ident,
                             source=self.source(request))
        return fhir_json(resource)

    def _create(self, session, grant, request, resource_type, resource) -> Response:
        if resource_type not in fhir_search.WRITABLE:
            return outcome(405, f"{resource_type[:40]} cannot be created through this API; Patient and Appointment can.")
        self.scope(grant, resource_type, "write")
        if resource.get("resourceType") != resource_type:
            raise InvalidInput(f"The body's resourceType must be {resource_type}.")
        actor = actor_for(grant.user, self.source(request))
        if resource_type == "Patient":
            created = fhir_map.patient_resource(fhir_write.create_patient(session, actor=actor, resource=resource, source=self.source(request)))
        else:
            created = fhir_write.appointment_as_fhir(session, fhir_write.create_appointment(session, actor=actor, resource=resource, now=self.clock()))
        location = f"{self.base(request)}/{resource_type}/{created['id']}"
        return fhir_json(created, 201, {"Location": location})

    def _update(self, session, grant, request, resource_type, ident, resource) -> Response:
        if resource_type not in fhir_search.WRITABLE:
            return outcome(405, f"{resource_type[:40]} cannot be changed through this API; Patient and Appointment can.")
        self.scope(grant, resource_type, "write")
        if resource.get("resourceType") != resource_type or "id" not in resource or str(resource.get("id")) != ident:
            # http.html "update": the body SHALL have an id element equal to the id in the URL.
            raise InvalidInput(f"The body must be {resource_type} with id {ident[:20]} (the id in the URL).")
        if not fhir_map.is_row_id(ident):
            raise NotFound(f"{resource_type}/{ident[:20]} does not exist.")
        actor = actor_for(grant.user, self.source(request))
        if resource_type == "Patient":
            updated = fhir_map.patient_resource(fhir_write.update_patient(session, actor=actor, patient_id=int(ident), resource=resource,
                                                                source=self.source(request)))
        else:
            updated = fhir_write.appointment_as_fhir(
                session, fhir_write.update_appointment(session, actor=actor, appointment_id=int(ident), resource=resource, now=self.clock())
            )
        return fhir_json(updated)

    def _transaction(self, session, grant, request, bundle) -> Response:
        for entry in bundle.get("entry") if isinstance(bundle.get("entry"), list) else []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            kind = resource.get("resourceType") if isinstance(resource, dict) else None
            if isinstance(kind, str):
                self.scope(grant, kind, "write")
        response = fhir_write.import_bundle(session, actor=actor_for(grant.user), bundle=bundle, source=self.source(request))
        return fhir_json(response)

    # -- bulk export ---------------------------------------------------------------------
    async def export_kickoff(self, request: Request) -> Response:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "_format"]
        if request.method == "POST":
            # Bulk Data IG: a POST kick-off carries its parameters in a Parameters resource.
            try:
                params += fhir_bulk.export_parameters(await self.body(request))
            except InvalidInput as exc:
                return outcome(400, str(exc), issues=getattr(exc, "issues", None))
        return await _threaded(self.handle, request, lambda s, g: self._kickoff(s, g, request, params))

    def _kickoff(self, session, grant, request, params) -> Response:
        if request.headers.get("prefer", "").replace(" ", "").lower().find("respond-async") < 0:
            raise InvalidInput("Bulk export runs in the background: send the header Prefer: respond-async.")
        asked = fhir_bulk.export_request(params)
        types = asked.types
        for kind in types:
            self.scope(grant, kind, "read")
        actor = actor_for(grant.user, self.source(request))
        require(actor.role, "fhir.export")
        self._forget_old_exports()
        job = secrets.token_hex(16)
        folder = self.export_dir / job
        folder.mkdir(parents=True)
        meta = {"user_id": grant.user.id, "request": str(request.url), "transactionTime": fhir_map.instant(utcnow())}
        (folder / "job.json").write_text(json.dumps(meta))
        threading.Thread(target=self._run_export, args=(folder, actor, meta, types, asked.since), daemon=True,
                         name=f"fhir-export-{job[:8]}").start()
        return Response(status_code=202, headers={"Content-Location": f"{self.base(request)}/$export-status/{job}"})

    def _forget_old_exports(self) -> None:
        """Exports hold PHI: files not deleted by their owner go after EXPORT_HOURS."""
        if not self.export_dir.exists():
            return
        cutoff = time.time() - EXPORT_HOURS * 3600
        for folder in self.export_dir.iterdir():
            if JOB_RE.match(folder.name) and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)

    def _run_export(self, folder: Path, actor, meta: dict, types: tuple[str, ...], since: dt.datetime | None = None) -> None:
        try:
            with db.session_scope(self.get_engine()) as session:  # commits the export's audit record
                counts = fhir_bulk.export_ndjson(session, actor=actor, out_dir=folder / "files", source=actor.source, types=types,
                                            since=since)
            manifest = {
                "transactionTime": meta["transactionTime"], "request": meta["request"], "requiresAccessToken": True,
                "output": [{"type": kind, "count": n, "file": f"{kind}.ndjson"} for kind, n in counts.items()], "error": [],
            }
            _write_atomically(folder / "manifest.json", json.dumps(manifest))
        except Exception as exc:  # the poller is told; the log gets no PHI, only the error's kind
            log.exception("FHIR export failed")
            _write_atomically(folder / "error.json", json.dumps({"message": f"The export failed ({type(exc).__name__})."}))

    def _job(self, session, grant, job: str) -> Path:
        folder = self.export_dir / job
        if not JOB_RE.match(job) or not (folder / "job.json").exists():
            raise NotFound("There is no such export (it may have been deleted).")
        if json.loads((folder / "job.json").read_text())["user_id"] != grant.user.id:
            raise NotFound("There is no such export (it may have been deleted).")
        require(grant.user.role, "fhir.export")
        return folder

    async def export_status(self, request: Request) -> Response:
        return await _threaded(self.handle, request, lambda s, g: self._status(s, g, request))

    def _status(self, session, grant, request) -> Response:
        folder = self._job(session, grant, request.path_params["job"])
        if request.method == "DELETE":
            shutil.rmtree(folder, ignore_errors=True)
            return Response(status_code=202)
        if (folder / "error.json").exists():
            return outcome(400, json.loads((folder / "error.json").read_text())["message"])
        if not (folder / "manifest.json").exists():
            if (folder / "job.json").stat().st_mtime < time.time() - STALE_EXPORT_SECONDS:
                # The worker that ran it stopped (a restart): say so rather than "in progress" for ever.
                return outcome(400, "This export did not finish (the server restarted); delete it and start a new one.")
            return Response(status_code=202, headers={"X-Progress": "in progress", "Retry-After": "2"})
        manifest = json.loads((folder / "manifest.json").read_text())
        base = self.base(request)
        for item in manifest["output"]:
            item["url"] = f"{base}/$export-file/{request.path_params['job']}/{item.pop('file')}"
        return JSONResponse(manifest, headers={"Expires": "0"})

    async def export_file(self, request: Request) -> Response:
        return await _threaded(self.handle, request, lambda s, g: self._file(s, g, request))

    def _file(self, session, grant, request) -> Response:
        folder = self._job(session, grant, request.path_params["job"])
        name = request.path_params["name"]
        if not re.match(r"^[A-Za-z]{1,40}\.ndjson$", name) or not (folder / "files" / name).exists():
            raise NotFound("That export has no such file.")
        db.for_write(session)
        audit.record(session, actor=actor_for(grant.user, self.source(request)), action="export_download",
                     entity="clinic", detail=name)
        session.commit()
        return FileResponse(folder / "files" / name, media_type="application/fhir+ndjson")

    async def not_supported(self, request: Request) -> Response:
        path = request.url.path
        if request.method not in ("GET", "HEAD"):
            return outcome(405, f"{request.method[:20]} {path[:80]} is not supported; see /fhir/metadata.")
        return outcome(404, f"{path[:80]} is not an endpoint of this server; see /fhir/metadata.")

    async def base_level(self, request: Request) -> Response:
        """The base URL with anything but POST (a transaction or batch Bundle)."""
        if request.method in ("GET", "HEAD"):
            return outcome(400, "This server has no whole-system search or history: read /fhir/metadata for what it "
                                "offers, or search one type (e.g. /fhir/Patient?name=diaz).")
        return outcome(405, f"{request.method[:20]} /fhir is not supported: POST a transaction or batch Bundle there; "
                            "see /fhir/metadata.", {"Allow": "POST"})

    def routes(self) -> list[Route]:
        e = fhir_endpoint
        return [
            Route("/fhir/metadata", e(self.metadata), methods=["GET"]),
            Route("/fhir/$export", e(self.export_kickoff), methods=["GET", "POST"]),
            Route("/fhir/$export-status/{job}", e(self.export_status), methods=["GET", "DELETE"]),
            Route("/fhir/$export-file/{job}/{name}", e(self.export_file), methods=["GET"]),
            Route("/fhir", e(self.transaction), methods=["POST"]),
            Route("/fhir", AnyMethod(e(self.base_level))),  # every other method, so never the web app's page
            Route("/fhir/Slot", e(self.slot_search), methods=["GET"]),  # computed open times (services/portal/slots.py)
            Route("/fhir/{type}/_search", e(self.search_post), methods=["POST"]),
            Route("/fhir/{type}", e(self.type_level), methods=["GET", "POST"]),
            Route("/fhir/{type}/{id}", e(self.instance_level), methods=["GET", "PUT"]),
            # Anything else under /fhir (any method) gets a FHIR answer, not the web app's page.
            Route("/fhir/{rest:path}", AnyMethod(e(self.not_supported))),
        ]


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, refused (InvalidInput) once it passes ``limit`` bytes, without reading the rest."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise InvalidInput(f"The request body is too large (at most {limit} bytes).")
    return bytes(data)


def _write_atomically(path, text: str) -> None:
    """Write ``text`` so that a poll sees either no file or the whole file, never half of it."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


class BodyTooLarge(Exception):
    """A request body past its limit (413)."""


def _depth(value) -> int:
    """How deeply a parsed JSON value nests (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


_limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> its limiter


async def _threaded(handle, request, work, **kwargs):
    """Run a request's database work on a worker thread, CLINIC_API_CONCURRENCY at a time (the
    rest wait their turn on the event loop): a burst of API requests cannot take the CPU and
    the database from the screens' events."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(settings.API_CONCURRENCY)
    return await anyio.to_thread.run_sync(functools.partial(handle, request, work, **kwargs), limiter=limiter)


def build_api(get_engine: Callable[[], Engine] = db.engine, export_dir: Path | None = None,
              clock: Callable[[], dt.datetime] = utcnow) -> Starlette:
    """The Starlette app holding the FHIR routes; Reflex mounts its own app under it."""
    return Starlette(routes=FhirApi(get_engine, export_dir, clock).routes())
