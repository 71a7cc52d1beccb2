"""A stand-in for a Supabase project's Storage API on a free loopback port, for the demo
sandbox and the tests.

No Supabase runs here without Docker, so this small HTTP server speaks the wire format of what
sits behind ``SUPABASE_URL/storage/v1``: the API gateway in front (which refuses a request
whose ``apikey`` header is missing or not one of the project's keys, with a 401 JSON error)
and the storage server (supabase/storage) behind it, which verifies the ``Authorization:
Bearer`` JWT with the project's JWT secret and applies row-level security by the JWT's role.

Served, as the ``supabase`` SDK (storage3) calls them:

- ``GET /storage/v1/bucket``: the buckets the role may see. ``service_role`` bypasses RLS and
  sees all; any other role sees none unless a SELECT policy on ``storage.buckets`` lets it
  (:attr:`SupabaseStorage.anon_reads_buckets`). A bucket being *public* does not list it:
  public only opens its files' download URLs (``/object/public/...``), as in Supabase.
- ``GET /storage/v1/bucket/{id}``: the bucket, or ``NoSuchBucket`` when it does not exist or
  RLS hides it.
- ``POST /storage/v1/bucket``: create (``{"id", "name", "public", ...}``); only
  ``service_role`` may (other roles violate the RLS of ``storage.buckets``); an existing id
  gets ``BucketAlreadyExists``.
- ``POST /storage/v1/object/list/{bucket}``: the names under ``prefix`` (folders as entries
  with a null id), with ``limit``/``offset``/``sortBy``. Without a SELECT policy on
  ``storage.objects`` for the role (:attr:`Bucket.anon_can_list`), the list is empty: RLS
  filters rows, it does not refuse. An unknown bucket lists nothing too.

Errors are the storage server's: HTTP 400 (the server answers 400 for every client error,
keeping the real status in the body) with ``{"statusCode": "404", "code": "NoSuchBucket",
"error": "Bucket not found", "message": "Bucket not found"}``; a bad JWT is ``statusCode
"403"``, ``AccessDenied``. The gateway's are HTTP 401 with ``{"message": "Invalid API key",
"hint": ...}``. State is plain attributes that tests and sandbox scenarios change to break it;
it records every request (the role, never the key). With :attr:`hang` set it reads requests
and never answers, like a wedged server. It runs in a thread of this process (stdlib
``http.server``), over TLS when given a server context.

Provides :class:`SupabaseStorage`, :class:`Bucket` and :class:`StorageRequest`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import unquote, urlsplit

from toolbox_tui.sandbox.http_peer import HOST, QuietServer, ThreadedHttpPeer

if TYPE_CHECKING:
    import socket
    import ssl

ANON = "anon"
SERVICE_ROLE = "service_role"
KEY_ROLES = (ANON, SERVICE_ROLE)
PREFIX = "/storage/v1"
MAX_BODY_BYTES = 1024 * 1024
DEFAULT_LIMIT = 100
# When the sandbox's buckets were made: fixed, so lists are the same from run to run.
CREATED = "2026-01-05T09:00:00.000Z"
_SOCKET_TIMEOUT = 10.0  # a client that connects and then says nothing is dropped after this
_JOIN_TIMEOUT = 5.0
# What the API gateway answers, word for word.
NO_API_KEY = {
    "message": "No API key found in request",
    "hint": "No `apikey` request header or url param was found.",
}
INVALID_API_KEY = {
    "message": "Invalid API key",
    "hint": "Double check your Supabase `anon` or `service_role` API key.",
}


@dataclass
class Bucket:
    """A bucket of ``storage.buckets`` and the names of its objects."""

    name: str
    public: bool = False
    objects: list[str] = field(default_factory=list)
    """Object names (paths such as ``tenant-1/report.pdf``)."""
    anon_can_list: bool = False
    """A SELECT policy on ``storage.objects`` for this bucket lets roles other than
    service_role (the anon key) read, hence list, its objects."""
    file_size_limit: int | None = None
    allowed_mime_types: list[str] | None = None
    owner: str = ""
    created_at: str = CREATED
    updated_at: str = CREATED

    @property
    def id(self) -> str:
        return self.name

    def document(self) -> dict[str, Any]:
        """The bucket as ``GET /storage/v1/bucket`` lists it."""
        return {
            "id": self.id,
            "name": self.name,
            "owner": self.owner,
            "public": self.public,
            "type": "STANDARD",
            "file_size_limit": self.file_size_limit,
            "allowed_mime_types": self.allowed_mime_types,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class StorageRequest:
    """One request the stand-in answered. ``role`` is the verified role of the key used
    (None when the gateway or the JWT check refused it); the key itself is never kept."""

    method: str
    path: str
    status: int
    role: str | None
    body: Any = None
    """The parsed JSON body, or None."""
    user_agent: str = ""
    client_info: str = ""
    """The ``X-Client-Info`` header the supabase SDK sends (``supabase-py/...``)."""


class SupabaseStorage(ThreadedHttpPeer):
    """``with SupabaseStorage(jwt_secret, tls=context) as storage:`` then set SUPABASE_URL to
    ``storage.url`` and sign the keys with :meth:`sign_key` (or give it the secret that
    signed the deployment's keys).

    Break it by changing :attr:`buckets` (see :meth:`add_bucket`), a bucket's ``public`` or
    ``anon_can_list``, :attr:`anon_reads_buckets`, :attr:`jwt_secret` (every key is then
    refused) or :attr:`hang`. :attr:`requests` lists what it answered.
    """

    NAME = "Supabase storage stand-in"

    def __init__(
        self,
        jwt_secret: str,
        *,
        buckets: Iterable[Bucket] = (),
        tls: ssl.SSLContext | None = None,
        host: str = HOST,
    ) -> None:
        super().__init__(tls=tls, host=host)
        self.jwt_secret = jwt_secret
        self.buckets: dict[str, Bucket] = {}
        self.anon_reads_buckets = False
        """A SELECT policy on ``storage.buckets`` for roles other than service_role."""
        self.hang = False
        """Read each request, then never answer (until stopped)."""
        self._lock = threading.Lock()
        self._requests: list[StorageRequest] = []
        self._released = threading.Event()
        self._hanging = threading.Event()
        for bucket in buckets:
            self.add_bucket(bucket)

    # -- state ----------------------------------------------------------------------------

    def add_bucket(self, bucket: Bucket | str, **options: Any) -> Bucket:
        """Add (or replace) a bucket: ``add_bucket("user-uploads", public=True)``."""
        made = Bucket(bucket, **options) if isinstance(bucket, str) else bucket
        self.buckets[made.name] = made
        return made

    @property
    def requests(self) -> list[StorageRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self._requests.clear()

    def sign_key(
        self,
        role: str,
        *,
        ref: str = "sandbox",
        now: datetime | None = None,
        lifetime: timedelta = timedelta(days=3650),
        secret: str | None = None,
    ) -> str:
        """A project API key as Supabase issues them: an HS256 JWT with ``iss``, ``ref``,
        ``role``, ``iat`` and ``exp``, signed with this project's secret (or ``secret``)."""
        import jwt

        issued = now or datetime.now(UTC)
        claims = {
            "iss": "supabase",
            "ref": ref,
            "role": role,
            "iat": int(issued.timestamp()),
            "exp": int((issued + lifetime).timestamp()),
        }
        return jwt.encode(claims, secret or self.jwt_secret, algorithm="HS256")

    @property
    def url(self) -> str:
        """The project URL, as SUPABASE_URL and ``create_client`` take it."""
        return super().url

    # -- lifecycle ------------------------------------------------------------------------

    def _make_server(self, address: tuple[str, int]) -> _Server:
        return _Server(address, _handler_for(self))

    def start(self) -> Self:
        self._released.clear()
        self._hanging.clear()
        return super().start()

    def stop(self) -> None:
        """Stop serving, release hung requests, close every socket and wait for the request
        threads to end; safe to repeat."""
        self._released.set()  # hung requests end first: nothing may wait on them
        super().stop()

    def _stopped(self, server: ThreadingHTTPServer) -> None:
        assert isinstance(server, _Server)
        server.join_handlers(_JOIN_TIMEOUT)

    def wait_until_released(self) -> None:
        """What a request does while :attr:`hang` is set: wait for :meth:`stop`."""
        self._hanging.set()
        self._released.wait()

    def wait_for_hung_request(self, timeout: float = 10.0) -> bool:
        """Whether a request has started hanging (within ``timeout`` seconds)."""
        return self._hanging.wait(timeout)

    # -- answering ------------------------------------------------------------------------

    def answer(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Any]:
        """The status and JSON document for one request; recorded."""
        path = urlsplit(target).path
        document = _json(body) if body else None
        role: str | None = None
        if not path.startswith(PREFIX + "/"):
            status, reply = 404, {"message": "no Route matched with those values"}
        else:
            gateway = self._gateway(headers.get("apikey"))
            if gateway is not None:
                status, reply = gateway
            else:
                verified = self._bearer_role(headers.get("authorization", ""))
                if isinstance(verified, str):
                    role = verified
                    status, reply = self._route(method, path[len(PREFIX) :], role, document)
                else:
                    status, reply = verified
        request = StorageRequest(
            method,
            path,
            status,
            role,
            document,
            headers.get("user-agent", ""),
            headers.get("x-client-info", ""),
        )
        with self._lock:
            self._requests.append(request)
        return status, reply

    def _claims(self, token: str) -> tuple[dict[str, Any] | None, str]:
        """The verified claims of ``token``, or None and why not (in jose's words, as the
        storage server reports them)."""
        import jwt

        try:
            claims = jwt.decode(
                token,
                self.jwt_secret,
                algorithms=["HS256"],
                # As jose verifies them for the storage server: "exp" and "nbf", not "iat"
                # (a key issued "in the future" by a skewed clock is still accepted).
                options={"verify_aud": False, "verify_iat": False},
            )
        except jwt.InvalidSignatureError:
            return None, "signature verification failed"
        except jwt.ExpiredSignatureError:
            return None, '"exp" claim timestamp check failed'
        except jwt.PyJWTError:
            return None, "Invalid Compact JWS"
        return (claims if isinstance(claims, dict) else None), "Invalid Compact JWS"

    def _gateway(self, apikey: str | None) -> tuple[int, Any] | None:
        """The API gateway's refusal of the ``apikey`` header, or None to pass it on."""
        if not apikey:
            return 401, NO_API_KEY
        claims, _ = self._claims(apikey)
        if claims is None or claims.get("role") not in KEY_ROLES:
            return 401, INVALID_API_KEY
        return None

    def _bearer_role(self, authorization: str) -> str | tuple[int, Any]:
        """The role of the ``Authorization: Bearer`` JWT, or the storage server's refusal."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(403, "AccessDenied", "Unauthorized", "Invalid Compact JWS")
        claims, why = self._claims(token.strip())
        if claims is None:
            return _error(403, "AccessDenied", "Unauthorized", why)
        return str(claims.get("role") or ANON)

    def _route(self, method: str, path: str, role: str, body: Any) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if method == "GET" and parts == ["bucket"]:
            return 200, [b.document() for b in self._visible_buckets(role)]
        if method == "GET" and len(parts) == 2 and parts[0] == "bucket":
            bucket = self._visible(role, parts[1])
            return (200, bucket.document()) if bucket else _no_such_bucket()
        if method == "POST" and parts == ["bucket"]:
            return self._create(role, body)
        if method == "POST" and len(parts) == 3 and parts[:2] == ["object", "list"]:
            return self._list_objects(role, parts[2], body)
        route = f"{method}:{PREFIX}{path}"
        return 404, {"statusCode": 404, "error": "Not Found", "message": f"Route {route} not found"}

    def _visible_buckets(self, role: str) -> list[Bucket]:
        with self._lock:
            buckets = list(self.buckets.values())
        if role == SERVICE_ROLE or self.anon_reads_buckets:
            return sorted(buckets, key=lambda b: b.name)
        return []

    def _visible(self, role: str, name: str) -> Bucket | None:
        return next((b for b in self._visible_buckets(role) if b.name == name), None)

    def _create(self, role: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            return _error(400, "InvalidRequest", "Bad Request", "body must have property 'name'")
        if role != SERVICE_ROLE:
            return _error(
                403, "AccessDenied", "Unauthorized", "new row violates row-level security policy"
            )
        name = str(body.get("id") or body["name"])
        with self._lock:
            if name in self.buckets:
                return _error(
                    409, "BucketAlreadyExists", "Duplicate", "The resource already exists"
                )
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            self.buckets[name] = Bucket(
                name,
                public=bool(body.get("public", False)),
                file_size_limit=body.get("file_size_limit"),
                allowed_mime_types=body.get("allowed_mime_types"),
                created_at=now,
                updated_at=now,
            )
        return 200, {"name": body["name"]}

    def _list_objects(self, role: str, name: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("prefix"), str):
            return _error(400, "InvalidRequest", "Bad Request", "body must have property 'prefix'")
        limit, offset = body.get("limit", DEFAULT_LIMIT), body.get("offset", 0)
        if not isinstance(limit, int) or not isinstance(offset, int) or limit < 1 or offset < 0:
            return _error(400, "InvalidRequest", "Bad Request", "invalid limit or offset")
        with self._lock:
            bucket = self.buckets.get(name)
            names = list(bucket.objects) if bucket else []
        if bucket is None or not (role == SERVICE_ROLE or bucket.anon_can_list):
            return 200, []  # row-level security filters the rows: an empty list, no error
        entries = _entries(name, body["prefix"], names)
        descending = (body.get("sortBy") or {}).get("order") == "desc"
        entries.sort(key=lambda e: e["name"], reverse=descending)
        return 200, entries[offset : offset + limit]


def _entries(bucket: str, prefix: str, names: Iterable[str]) -> list[dict[str, Any]]:
    """What ``storage.search`` returns for one folder level: files, and folders (null id)."""
    folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    files: dict[str, dict[str, Any]] = {}
    for name in names:
        if not name.startswith(folder):
            continue
        head, slash, _ = name[len(folder) :].partition("/")
        if slash:
            files.setdefault(head, _folder(head))
        else:
            files[head] = _file(bucket, name, head)
    return list(files.values())


def _folder(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "id": None,
        "updated_at": None,
        "created_at": None,
        "last_accessed_at": None,
        "metadata": None,
    }


def _file(bucket: str, path: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{bucket}/{path}")),
        "updated_at": CREATED,
        "created_at": CREATED,
        "last_accessed_at": CREATED,
        "metadata": {
            "eTag": '"0"',
            "size": 0,
            "mimetype": "application/octet-stream",
            "cacheControl": "max-age=3600",
            "lastModified": CREATED,
            "contentLength": 0,
            "httpStatusCode": 200,
        },
    }


def _error(status: int, code: str, error: str, message: str) -> tuple[int, dict[str, str]]:
    """The storage server's error: HTTP 400 (500 stays 500), the real status in the body."""
    http_status = 500 if status >= 500 else 400
    document = {"statusCode": str(status), "code": code, "error": error, "message": message}
    return http_status, document


def _no_such_bucket() -> tuple[int, dict[str, str]]:
    return _error(404, "NoSuchBucket", "Bucket not found", "Bucket not found")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


class _Server(QuietServer):
    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._handlers: set[threading.Thread] = set()
        self._handlers_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        # Each request in a thread of its own, known before it starts: stop() waits for it.
        thread = threading.Thread(
            target=self._handle_one,
            args=(request, client_address),
            name="sandbox-supabase-storage-request",
            daemon=True,
        )
        with self._handlers_lock:
            self._handlers.add(thread)
        thread.start()

    def _handle_one(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._handlers_lock:
                self._handlers.discard(threading.current_thread())

    def join_handlers(self, timeout: float) -> None:
        """Wait for the request threads still running (each ends within its socket's
        timeout once hung requests are released)."""
        with self._handlers_lock:
            running = list(self._handlers)
        for thread in running:
            thread.join(timeout)

    def get_request(self) -> tuple[socket.socket, Any]:
        request, address = super().get_request()
        request.settimeout(_SOCKET_TIMEOUT)
        return request, address


def _handler_for(storage: SupabaseStorage) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "sandbox-supabase-storage/1.0"

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def do_PUT(self) -> None:
            self._answer()

        def do_DELETE(self) -> None:
            self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._reply(*_error(413, "EntityTooLarge", "Payload too large", "too large"))
                return
            body = self.rfile.read(length) if length else b""
            if storage.hang:
                storage.wait_until_released()
                self.close_connection = True
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            self._reply(*storage.answer(self.command, self.path, headers, body))

        def _reply(self, status: int, document: Any) -> None:
            data = json.dumps(document).encode("utf-8")
            self.send_response(status, HTTPStatus(status).phrase)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            # One request per connection: no handler thread outlives its answer.
            self.send_header("Connection", "close")
            self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # no access log on the terminal

    return Handler
