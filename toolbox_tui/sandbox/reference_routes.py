"""The reference ToolboxAI app's HTTP side: its routes, security headers, CORS, the plain-http
redirect, the login rate limit, webhook signatures and the access log (the contract is in
/work/briefs/reference_app_contract.md; the process around it is reference_app.py).

Provides :func:`application`: an aiohttp application and the TLS context it is served with.
Both listeners serve the same application; a request that came in clear is redirected to
https unless ``https_redirect`` is off. The settings are asked for on every request, so a
flag flipped on a running app takes effect on the next one.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import json
import math
import os
import secrets
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from toolbox_tui.sandbox.reference_app import AppLog, ReferenceAppSettings

if TYPE_CHECKING:
    import asyncpg

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PART_SIZE = 5 * 1024 * 1024
ACCESS_TOKEN_SECONDS = 3600
LOGIN_WINDOW_SECONDS = 60.0
SIGNATURE_TOLERANCE_SECONDS = 300
_DB_TIMEOUT = 5.0
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
HSTS = "max-age=31536000; includeSubDomains"
DASHBOARD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ToolBoxAI</title></head>
<body><h1>ToolBoxAI dashboard</h1><p>Sign in to manage your Roblox environments.</p></body>
</html>
"""
_ACCESS = "toolboxai.access"
_APP = "toolboxai.app"


def _json_error(status: type[web.HTTPException], message: str, **headers: str) -> web.HTTPException:
    return status(
        text=json.dumps({"error": message}), content_type="application/json", headers=headers
    )


@dataclass
class _State:
    """What the app remembers between requests (in memory: a restart forgets it)."""

    settings: Callable[[], ReferenceAppSettings]
    log: AppLog
    tls: ssl.SSLContext = field(default_factory=lambda: ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    """The listener's: its handshake callback hands each connection the current certificate."""
    current: ssl.SSLContext | None = None
    cert_stamp: tuple[int, int, int, int] | None = None
    pool: asyncpg.Pool | None = None
    access_tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    logins: dict[str, collections.deque[float]] = field(default_factory=dict)

    def certificate(self) -> ssl.SSLContext | None:
        """A server context with the certificate in the files now, read again when they
        changed (a scenario replaced them); None when they cannot be read."""
        settings = self.settings()
        try:
            cert, key = os.stat(settings.cert_file), os.stat(settings.key_file)
            stamp = (cert.st_ino, cert.st_mtime_ns, key.st_ino, key.st_mtime_ns)
            if stamp != self.cert_stamp or self.current is None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(settings.cert_file, settings.key_file)
                self.current, self.cert_stamp = context, stamp
        except (OSError, ssl.SSLError):
            pass  # mid-replacement or gone: keep serving the one last read
        return self.current

    def handshake(self, connection: Any, server_name: str | None, context: Any) -> None:
        """The listener's SNI callback, which OpenSSL calls on every handshake (also
        without SNI, as for an IP address): the connection gets the current certificate,
        so a replaced one is served from the very next connection."""
        del server_name
        current = self.certificate()
        if current is not None and current is not context:
            connection.context = current


def application(
    settings: Callable[[], ReferenceAppSettings], log: AppLog
) -> tuple[web.Application, ssl.SSLContext]:
    """The app, and the TLS context its HTTPS listener is to use."""
    state = _State(settings, log)
    current = settings()
    if state.certificate() is None:
        raise OSError(f"cannot read the certificate {current.cert_file} or {current.key_file}")
    state.tls.load_cert_chain(current.cert_file, current.key_file)
    state.tls.sni_callback = state.handshake
    app = web.Application(
        middlewares=[_logging(state), _redirecting(state), _delaying(state), _preflight]
    )
    app.on_response_prepare.append(_decorate(state))
    app.on_startup.append(lambda _app: _open_pool(state))
    app.on_cleanup.append(lambda _app: _close_pool(state))
    routes = _Routes(state)
    app.router.add_get("/", routes.dashboard)
    app.router.add_get("/api/health", routes.health)
    app.router.add_get("/api/v1/health/db", routes.db_health)
    app.router.add_post("/api/v1/stripe/webhooks", routes.webhook)
    app.router.add_post("/api/v1/uploads/multipart/init", routes.multipart_init)
    app.router.add_post("/api/v1/roblox/environment/create", routes.create_environment)
    app.router.add_get("/api/v1/roblox/environment/list", routes.list_environments)
    app.router.add_delete(r"/api/v1/roblox/environment/{env_id:\d+}", routes.delete_environment)
    app.router.add_post("/api/v1/auth/login", routes.login)
    app.router.add_post("/api/v1/auth/token", routes.token)
    app.router.add_post("/api/v1/auth/revoke", routes.revoke)
    app.router.add_get("/api/v1/auth/me", routes.me)
    return app, state.tls


# -- around every request ----------------------------------------------------------------------


def _logging(state: _State) -> Any:
    """One access line per request; an unexpected error logged with its traceback and
    answered 500; with ``log_errors`` every request also logs an error."""

    @web.middleware
    async def log_request(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except Exception as exc:
            state.log.error(_APP, f"unhandled error in {request.method} {request.path}", exc)
            return web.json_response({"error": "internal server error"}, status=500)
        finally:
            if state.settings().log_errors:
                _log_simulated_failure(state.log, request)
            took = (time.perf_counter() - start) * 1000
            state.log.info(_ACCESS, f"{request.method} {request.path} {status} {took:.0f}ms")

    return log_request


def _render_recommendations(path: str) -> None:
    raise ConnectionResetError(f"recommendation cache closed the connection while rendering {path}")


def _log_simulated_failure(log: AppLog, request: web.Request) -> None:
    """The ``log_errors`` scenario: a failing dependency behind every request."""
    try:
        _render_recommendations(request.path)
    except ConnectionResetError as exc:
        log.error(_APP, f"error while handling {request.method} {request.path}: {exc}", exc)


def _redirecting(state: _State) -> Any:
    @web.middleware
    async def redirect(request: web.Request, handler: Handler) -> web.StreamResponse:
        settings = state.settings()
        if not request.secure and settings.https_redirect:
            location = f"https://{settings.host}:{settings.https_port}{request.path_qs}"
            raise web.HTTPMovedPermanently(location)
        return await handler(request)

    return redirect


def _delaying(state: _State) -> Any:
    @web.middleware
    async def delay(request: web.Request, handler: Handler) -> web.StreamResponse:
        delay_ms = state.settings().delay_ms
        if delay_ms > 0 and request.path.startswith("/api/"):
            await asyncio.sleep(delay_ms / 1000)
        return await handler(request)

    return delay


def _is_preflight(request: web.Request) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


@web.middleware
async def _preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A CORS preflight is answered here, for any path (its headers: see _decorate)."""
    if _is_preflight(request):
        return web.Response(status=204)
    return await handler(request)


def _decorate(state: _State) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """The security headers on every answer, HSTS on https only; CORS on /api/ and preflights."""

    async def decorate(request: web.Request, response: web.StreamResponse) -> None:
        settings = state.settings()
        # Not aiohttp's name and version: nothing tells a scanner what to try.
        response.headers["Server"] = "toolboxai"
        response.headers.update(SECURITY_HEADERS)
        if request.secure and settings.hsts:
            response.headers["Strict-Transport-Security"] = HSTS
        preflight = _is_preflight(request)
        if not (request.path.startswith("/api/") or preflight):
            return
        response.headers["Vary"] = "Origin"
        origin = request.headers.get("Origin")
        if origin is None or not (settings.cors_reflect or origin in settings.cors_origins):
            return
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        if preflight:
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = (
                "Authorization, Content-Type, Stripe-Signature"
            )
            response.headers["Access-Control-Max-Age"] = "600"

    return decorate


# -- the database ------------------------------------------------------------------------------


async def _open_pool(state: _State) -> None:
    import asyncpg

    url = state.settings().database_url
    if url:
        # No connection is made until one is needed: the app starts while its database is
        # down, as a real one does, and says so on /api/v1/health/db.
        state.pool = await asyncpg.create_pool(
            url, min_size=0, max_size=4, timeout=_DB_TIMEOUT, command_timeout=_DB_TIMEOUT
        )


async def _close_pool(state: _State) -> None:
    pool, state.pool = state.pool, None
    if pool is not None:
        pool.terminate()


def _db_errors() -> tuple[type[BaseException], ...]:
    import asyncpg

    return (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


@contextmanager
def _database_or_503(state: _State, what: str) -> Iterator[None]:
    """A database failure becomes a 503 and a WARNING: the database's own state is what
    the checks name (db.reachable, db.revision-state); an ERROR here would also fail
    logs.errors, which only the log-errors scenario is to break."""
    try:
        yield
    except _db_errors() as exc:
        state.log.warning(_APP, f"database error while {what}: {type(exc).__name__}: {exc}")
        raise _json_error(web.HTTPServiceUnavailable, "database unavailable") from None


def _pool(state: _State) -> asyncpg.Pool:
    if state.pool is None:
        raise _json_error(web.HTTPServiceUnavailable, "no database configured")
    return state.pool


async def _user_id(connection: asyncpg.Connection, email: str) -> int:
    """The token's user in ``users``, created on its first use (it can never log in)."""
    user_id = await connection.fetchval(
        "INSERT INTO users (email, display_name, hashed_password) VALUES ($1, $2, '!') "
        "ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email RETURNING id",
        email,
        email.split("@")[0][:120] or email[:120],
    )
    return int(user_id)


# -- the routes --------------------------------------------------------------------------------


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        document = await request.json()
    except ValueError:
        raise _json_error(web.HTTPUnprocessableEntity, "the body is not JSON") from None
    if not isinstance(document, dict):
        raise _json_error(web.HTTPUnprocessableEntity, "the body is not a JSON object")
    return document


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class _Routes:
    def __init__(self, state: _State) -> None:
        self.state = state

    # -- who asks ----------------------------------------------------------------------------

    def _api_user(self, request: web.Request) -> str:
        """The email of the API token presented, or 401."""
        token = _bearer(request)
        email = self.state.settings().api_tokens.get(token or "")
        if token is None or email is None or token in self.state.revoked:
            raise _json_error(
                web.HTTPUnauthorized, "invalid or revoked token", **{"WWW-Authenticate": "Bearer"}
            )
        return email

    def _any_user(self, request: web.Request) -> str:
        """The email of the API or access token presented, or 401."""
        token = _bearer(request) or ""
        issued = self.state.access_tokens.get(token)
        if issued is not None and token not in self.state.revoked:
            email, expires = issued
            if time.monotonic() < expires:
                return email
        return self._api_user(request)

    # -- public --------------------------------------------------------------------------------

    async def dashboard(self, request: web.Request) -> web.Response:
        response = web.Response(text=DASHBOARD, content_type="text/html")
        response.headers.add(
            "Set-Cookie",
            f"session={secrets.token_urlsafe(24)}; Secure; HttpOnly; SameSite=Lax; Path=/",
        )
        return response

    async def health(self, request: web.Request) -> web.Response:
        if self.state.settings().health == "degraded":
            return web.json_response(
                {"status": "degraded", "reason": "celery queue backlog: 1843 tasks waiting"}
            )
        return web.json_response({"status": "healthy"})

    async def db_health(self, request: web.Request) -> web.Response:
        if self.state.pool is None:
            return web.json_response(
                {"database": "disconnected", "error": "no database configured"}, status=503
            )
        error = ""
        # Twice: the first connection may be one the server closed since (a restart).
        for _attempt in range(2):
            try:
                async with self.state.pool.acquire() as connection:
                    await connection.fetchval("SELECT 1")
                return web.json_response({"database": "connected"})
            except _db_errors() as exc:
                error = f"{type(exc).__name__}: {exc}"
        self.state.log.warning(_APP, f"database health check failed: {error}")
        return web.json_response({"database": "disconnected", "error": error}, status=503)

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        settings = self.state.settings()
        if settings.verify_webhooks and not _signed(
            body, request.headers.get("Stripe-Signature", ""), settings.webhook_secret
        ):
            return web.json_response({"error": "invalid signature"}, status=400)
        return web.json_response({"received": True})

    async def login(self, request: web.Request) -> web.Response:
        limit = self.state.settings().login_limit
        address = request.remote or "unknown"
        now = time.monotonic()
        attempts = self.state.logins.setdefault(address, collections.deque())
        while attempts and attempts[0] <= now - LOGIN_WINDOW_SECONDS:
            attempts.popleft()
        if limit > 0 and len(attempts) >= limit:
            retry = max(1, math.ceil(attempts[0] + LOGIN_WINDOW_SECONDS - now))
            raise _json_error(
                web.HTTPTooManyRequests, "too many login attempts", **{"Retry-After": str(retry)}
            )
        attempts.append(now)
        # No account here has a password: every login is refused, as with a wrong one.
        await request.read()
        return web.json_response({"error": "invalid credentials"}, status=401)

    # -- the API token's -----------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        email = self._api_user(request)
        token = secrets.token_urlsafe(32)
        self.state.access_tokens[token] = (email, time.monotonic() + ACCESS_TOKEN_SECONDS)
        return web.json_response(
            {"access_token": token, "token_type": "bearer", "expires_in": ACCESS_TOKEN_SECONDS}
        )

    async def revoke(self, request: web.Request) -> web.Response:
        self._api_user(request)
        if request.content_type == "application/json":
            document = await _json_body(request)
            token = document.get("token")
        else:
            token = (await request.post()).get("token")
        if not isinstance(token, str) or not token:
            return web.json_response({"error": "invalid_request"}, status=400)
        # RFC 7009: an unknown token is answered 200 as well; nothing tells them apart.
        self.state.revoked.add(token)
        return web.json_response({})

    async def me(self, request: web.Request) -> web.Response:
        return web.json_response({"email": self._any_user(request)})

    async def multipart_init(self, request: web.Request) -> web.Response:
        self._api_user(request)
        document = await _json_body(request)
        filename, size, content_type = (
            document.get("filename"),
            document.get("size"),
            document.get("content_type"),
        )
        if not isinstance(filename, str) or not filename:
            raise _json_error(web.HTTPUnprocessableEntity, "filename: a non-empty string")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise _json_error(web.HTTPUnprocessableEntity, "size: a positive number of bytes")
        if not isinstance(content_type, str) or not content_type:
            raise _json_error(web.HTTPUnprocessableEntity, "content_type: a non-empty string")
        return web.json_response(
            {
                "upload_id": uuid.uuid4().hex,
                "part_size": PART_SIZE,
                "part_count": math.ceil(size / PART_SIZE),
            }
        )

    async def create_environment(self, request: web.Request) -> web.Response:
        email = self._api_user(request)
        document = await _json_body(request)
        name, description = document.get("name"), document.get("description", "")
        if not isinstance(name, str) or not name.strip() or len(name) > 120:
            raise _json_error(web.HTTPUnprocessableEntity, "name: 1 to 120 characters")
        if not isinstance(description, str):
            raise _json_error(web.HTTPUnprocessableEntity, "description: a string")
        with _database_or_503(self.state, "creating an environment"):
            async with _pool(self.state).acquire() as connection, connection.transaction():
                owner = await _user_id(connection, email)
                row = await connection.fetchrow(
                    "INSERT INTO roblox_environments (owner_id, name, description) "
                    "VALUES ($1, $2, $3) RETURNING id, name, status",
                    owner,
                    name,
                    description,
                )
        return web.json_response(dict(row), status=201)

    async def list_environments(self, request: web.Request) -> web.Response:
        email = self._api_user(request)
        with _database_or_503(self.state, "listing environments"):
            async with _pool(self.state).acquire() as connection:
                rows = await connection.fetch(
                    "SELECT e.id, e.name, e.status FROM roblox_environments e "
                    "JOIN users u ON u.id = e.owner_id WHERE u.email = $1 ORDER BY e.id",
                    email,
                )
        return web.json_response({"environments": [dict(row) for row in rows]})

    async def delete_environment(self, request: web.Request) -> web.Response:
        email = self._api_user(request)
        env_id = int(request.match_info["env_id"])
        with _database_or_503(self.state, "deleting an environment"):
            async with _pool(self.state).acquire() as connection:
                deleted = await connection.fetchval(
                    "DELETE FROM roblox_environments e USING users u "
                    "WHERE e.id = $1 AND u.id = e.owner_id AND u.email = $2 RETURNING e.id",
                    env_id,
                    email,
                )
        if deleted is None:
            raise _json_error(web.HTTPNotFound, "no such environment")
        return web.Response(status=204)


def _signed(body: bytes, header: str, secret: str, now: float | None = None) -> bool:
    """Stripe's scheme: ``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``, within
    SIGNATURE_TOLERANCE_SECONDS of now."""
    stamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            stamp = value
        elif key == "v1":
            signatures.append(value)
    if not secret or stamp is None or not stamp.isdigit() or not signatures:
        return False
    if abs((now if now is not None else time.time()) - int(stamp)) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)
