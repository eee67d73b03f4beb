"""The CDS Hooks HTTP service: a Starlette app, served by uvicorn.

Routes: ``GET /cds-services`` (discovery) and ``POST /cds-services/{id}`` (a hook call). Every
answer is JSON: cards, or an error body naming what is wrong (``error.schema.json``); no request,
however malformed, gets a traceback. The evaluation runs in a worker thread, so a slow FHIR
server or a long record never blocks other calls.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mbc_rules.errors import MbcRulesError
from mbc_rules.rulebase import Rulebase
from mbc_rules.service.auth import TokenVerifier
from mbc_rules.service.cards import order_select_cards, patient_view_cards
from mbc_rules.service.contract import (
    ESSENTIAL_PREFETCH,
    MAX_BODY_BYTES,
    MEDICATION_PREFETCH,
    SERVICES,
    RequestError,
    Service,
    error_body,
)
from mbc_rules.service.fhir_server import FetchError, fetch_missing
from mbc_rules.service.hooks import Entry, HookRequest, parse_request
from mbc_rules.service.record import read_record

logger = logging.getLogger("mbc_rules.service")
_JSON_TYPES = ("application/json", "application/fhir+json")


@dataclass(frozen=True)
class ServiceConfig:
    """How the service runs: its rules, who it trusts, and how it reaches FHIR servers.

    Attributes:
        rulebase: the rules the hooks evaluate.
        verifier: checks the EHR's bearer token; None accepts calls without one.
        public_url: the base URL the EHR calls (``https://cds.example.org``), for the token's
            ``aud``; by default the URL of the request as received.
        fhir_timeout: seconds allowed for all fetches of one prefetch key from ``fhirServer``.
        fhir_servers: URL prefixes of the FHIR servers the service may read; empty means any
            (run behind a token verifier, or on a trusted network).
        cors_origins: browser origins allowed to call (the CDS Hooks sandbox, for one).
    """

    rulebase: Rulebase
    verifier: TokenVerifier | None = None
    public_url: str | None = None
    fhir_timeout: float = 5.0
    fhir_servers: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = field(default=())


def _json(status: int, body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _problem(problem: RequestError) -> JSONResponse:
    return _json(problem.status, problem.body())


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    too_big = RequestError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    if declared is not None:
        if not declared.isdigit():
            raise RequestError(400, f"Content-Length is not a number: {declared[:40]!r}")
        if int(declared) > MAX_BODY_BYTES:
            raise too_big
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise too_big
            chunks.append(chunk)
    except ClientDisconnect:
        raise RequestError(400, "the client closed the connection mid-body") from None
    return b"".join(chunks)


def _check_content_type(request: Request) -> None:
    content_type = request.headers.get("content-type", "application/json")
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in _JSON_TYPES:
        raise RequestError(415, f"the body must be application/json, not {media[:60]!r}")


class _Hooks:
    """The hook endpoints, bound to one configuration."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.services = {service.id: service for service in SERVICES}

    async def discovery(self, request: Request) -> Response:
        return _json(200, {"services": [s.discovery() for s in SERVICES]})

    async def call(self, request: Request) -> Response:
        service_id = request.path_params["service_id"]
        service = self.services.get(service_id)
        try:
            if service is None:
                known = ", ".join(self.services)
                raise RequestError(404, f"no service {service_id[:80]!r}; this server has {known}")
            if self.config.verifier is not None:
                base = self.config.public_url or str(request.base_url)
                audience = base.rstrip("/") + request.url.path
                claims = self.config.verifier.verify(request.headers.get("authorization"), audience)
                request.state.log_note = f"iss={claims.get('iss')}"
            _check_content_type(request)
            body = await _read_body(request)
            hook = parse_request(body, service)
            request.state.log_note = f"hookInstance={hook.hook_instance[:64]}"
            cards = await run_in_threadpool(self.answer, service, hook)
        except RequestError as problem:
            note = getattr(request.state, "log_note", "")
            request.state.log_note = f"{note} refused: {problem.message[:300]!r}".strip()
            return _problem(problem)
        request.state.log_note = f"{getattr(request.state, 'log_note', '')} cards={len(cards)}"
        return _json(200, {"cards": cards})

    def _entries(self, hook: HookRequest) -> tuple[list[Entry], list[str]]:
        """Every resource of the patient, fetching what the prefetch lacks where possible.

        Returns the entries and the keys still missing (that the answer goes without).
        """
        prefetch = dict(hook.prefetch)
        missing = hook.missing_prefetch()
        if missing and hook.fhir_server is not None:
            allowed = self.config.fhir_servers
            if allowed and not any(hook.fhir_server.startswith(p) for p in allowed):
                raise RequestError(
                    412,
                    f"the prefetch lacks {', '.join(missing)} and fhirServer "
                    f"{hook.fhir_server[:100]!r} is not among the servers this service reads",
                    "fhirServer",
                )
            try:
                prefetch |= fetch_missing(
                    hook.fhir_server,
                    missing,
                    hook.patient_id,
                    hook.fhir_authorization,
                    timeout=self.config.fhir_timeout,
                )
            except FetchError as error:
                raise RequestError(
                    412,
                    f"the prefetch lacks {', '.join(missing)} and fhirServer could not give "
                    f"them: {error}",
                    "fhirServer",
                ) from None
            missing = []
        essential = [key for key in ESSENTIAL_PREFETCH if key in missing]
        if not any(key in prefetch for key in MEDICATION_PREFETCH):
            essential.append("one of " + ", ".join(MEDICATION_PREFETCH))
        if essential:
            raise RequestError(
                412,
                f"the prefetch lacks {'; '.join(essential)}, and the request gives no "
                "fhirServer to read them from",
                "prefetch",
            )
        entries = [entry for key in prefetch for entry in prefetch[key]]
        return entries, missing

    def answer(self, service: Service, hook: HookRequest) -> list[dict[str, Any]]:
        """The cards for one checked hook call (runs in a worker thread)."""
        entries, missing = self._entries(hook)
        rulebase = self.config.rulebase
        record = read_record(entries, hook.patient_id, rulebase)
        try:
            evaluation = rulebase.evaluate(record.profile)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "profile"
            raise RequestError(
                422, f"the record reads as an invalid profile: {where}: {first['msg']}"
            ) from None
        if service.hook == "order-select":
            return order_select_cards(rulebase, evaluation, record, hook.draft_orders, entries)
        return patient_view_cards(rulebase, evaluation, record, missing_keys=missing)


async def _http_error(request: Request, error: Exception) -> Response:
    status = error.status_code if isinstance(error, HTTPException) else 500
    detail = error.detail if isinstance(error, HTTPException) else "error"
    if status == 404:
        message = f"no such resource: {request.url.path[:120]}; discovery is GET /cds-services"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path[:120]}"
    else:
        message = str(detail)
    return _json(status, error_body(status, message))


async def _server_error(request: Request, error: Exception) -> Response:
    # The traceback goes to the log, never to the caller.
    logger.error("unhandled error on %s", request.url.path[:120], exc_info=error)
    if isinstance(error, MbcRulesError):
        message = f"the rule engine failed on this request: {type(error).__name__}"
    else:
        message = "the service failed on this request; the error is logged"
    return _json(500, error_body(500, message))


class _RequestLog:
    """One log line per request: method, path, status, time taken, and the hook's note."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client") or ("-", 0)
            note = scope.get("state", {}).get("log_note", "")
            logger.info(
                '%s "%s %s" %d %.1f ms %s',
                client[0],
                scope["method"],
                scope["path"][:120],
                status,
                (time.perf_counter() - start) * 1000,
                note,
            )


def create_app(config: ServiceConfig) -> Starlette:
    """The ASGI application of the service."""
    hooks = _Hooks(config)
    middleware: list[Middleware] = [Middleware(_RequestLog)]
    if config.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )
    routes = [
        Route("/cds-services", hooks.discovery, methods=["GET"]),
        Route("/cds-services/{service_id}", hooks.call, methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )


def serve(
    config: ServiceConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    log_level: str = "info",
) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM), then finish open requests and return."""
    import uvicorn

    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logger.setLevel(log_level.upper())
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,  # _RequestLog writes the one line per request
            lifespan="off",
            timeout_graceful_shutdown=10,
        )
    )
    # uvicorn finishes the open requests on SIGINT or SIGTERM, then raises the signal again
    # for the handler it found: a quiet one makes a clean stop exit with status 0.
    quiet = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for sig, handler in quiet.items():
            signal.signal(sig, handler)


def _stopped(signum: int, frame: Any) -> None:
    logger.info("stopped by signal %d", signum)


def trusted_issuers(specs: Sequence[str]) -> TokenVerifier | None:
    """A verifier for ``ISSUER=KEYFILE`` specs, or None when there are none."""
    if not specs:
        return None
    from mbc_rules.service.auth import parse_issuer

    return TokenVerifier(dict(parse_issuer(spec) for spec in specs))
