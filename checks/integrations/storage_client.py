"""Calling a Supabase project's Storage as the storage checks do: where it is, its keys, and
the few calls they make, through the ``supabase`` SDK.

Provides :func:`project` (SUPABASE_URL and both keys, refusing a URL that would expose them),
:func:`open_storage` (an ``async with`` giving a :class:`Storage`: the SDK's storage client
per key, over one HTTP client) and :class:`StorageRefused` (what Storage answered, when it
refused, as a readable :class:`~checks.core.CheckFailed` naming the endpoint).

The SDK is the app's own: ``supabase.AsyncClient`` (what ``acreate_client`` builds), whose
``.storage`` is storage3's ``AsyncStorageClient``, so the URL (``SUPABASE_URL/storage/v1/``)
and the headers (``apiKey`` and ``Authorization: Bearer``) are built by the code the app
runs. Its HTTP client is not the SDK's default (20 s for everything, the system CAs only,
redirects followed): ``AsyncClientOptions(httpx_client=...)`` hands the SDK the client of
:func:`checks.net.http_client`, with its connect/read timeouts capped by
TOOLBOX_CHECK_TIMEOUT, TOOLBOX_CA_BUNDLE trusted and its failure sentences. (The SDK's
``storage_client_timeout`` takes whole seconds and no CA; ``verify``/``timeout`` on storage3
are deprecated.) The async client is used, so nothing blocks the event loop but the import
and the CA store's read, which run in a thread.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from checks.context import CheckContext
from checks.core import CheckFailed
from checks.environment.storage import KEYS_HINT
from checks.findings import Findings, require
from checks.net import explain, open_http_client, service_base_url
from checks.offloop import import_off_loop

if TYPE_CHECKING:
    import httpx
    from storage3 import AsyncStorageClient


URL_SETTING = "SUPABASE_URL"
ANON_KEY = "SUPABASE_KEY"
SERVICE_KEY = "SUPABASE_SERVICE_KEY"
KEY_NAMES = (SERVICE_KEY, ANON_KEY)
STORAGE_PATH = "/storage/v1"
EXCERPT_CHARS = 200
_URL_HINT = f"Is {URL_SETTING} the project's URL (https://<ref>.supabase.co)?"
# How Storage says a JWT was not this project's (jose's messages, and older servers').
_BAD_JWT_WORDS = ("signature", "jws", "jwt", '"exp"', "expired", "invalid")


@dataclass(frozen=True)
class Project:
    """Where the project is, and its two keys (never shown)."""

    url: str
    keys: Mapping[str, str] = field(repr=False)

    @property
    def storage(self) -> str:
        return self.url + STORAGE_PATH

    def endpoint(self, path: str) -> str:
        return self.storage + path


@dataclass(frozen=True)
class BucketInfo:
    """A bucket as Storage describes it."""

    name: str
    public: bool
    file_size_limit: int | None = None
    allowed_mime_types: tuple[str, ...] | None = None


class StorageRefused(CheckFailed):
    """Storage answered with an error. ``status`` is the status its body names (Supabase's
    storage server answers 400 to most client errors and keeps the real one there: "404"
    for a missing bucket, "403" for a refused key); ``http_status`` what the HTTP line said."""

    def __init__(
        self,
        message: str,
        hint: str,
        *,
        endpoint: str,
        http_status: int,
        status: str,
        error: str,
        bad_key: bool = False,
    ) -> None:
        super().__init__(message, hint)
        self.endpoint = endpoint
        self.http_status = http_status
        self.status = status
        self.error = error
        self.bad_key = bad_key
        """The key itself was refused (the gateway's 401, or a JWT Storage does not trust)."""

    @property
    def client_error(self) -> bool:
        """A 4xx refusal of this request, not of the key (row-level security, a bad request)."""
        return not self.bad_key and self.status.startswith("4")


def project(ctx: CheckContext) -> Project:
    """SUPABASE_URL and both keys; raises :class:`CheckFailed` for one unset, or a URL that
    would expose the keys (plain http beyond this machine, credentials in it)."""
    findings = Findings()
    raw = require(ctx.env, URL_SETTING, findings)
    keys = {name: require(ctx.env, name, findings) for name in KEY_NAMES}
    for name, key in keys.items():
        if key is not None and not key.strip():
            findings.fail(f"{name} is empty")
    if findings.failures or raw is None:
        raise CheckFailed("; ".join(findings.failures) + ".", KEYS_HINT)
    base = service_base_url(raw, URL_SETTING, carries="the Supabase keys", hint=_URL_HINT)
    return Project(base, {name: (key or "").strip() for name, key in keys.items()})


class Storage:
    """One project's Storage for one check or action: the SDK's client for each key, all
    over the same HTTP client. Every call raises :class:`CheckFailed` with a sentence naming
    the endpoint when it cannot get an answer, and :class:`StorageRefused` for a refusal."""

    def __init__(self, ctx: CheckContext, where: Project, http: httpx.AsyncClient) -> None:
        self.ctx = ctx
        self.where = where
        self._http = http
        self._clients: dict[str, AsyncStorageClient] = {}

    def _client(self, key_name: str) -> AsyncStorageClient:
        if key_name not in self._clients:
            from supabase import AsyncClient, AsyncClientOptions

            options = AsyncClientOptions(httpx_client=self._http)
            supabase = AsyncClient(self.where.url, self.where.keys[key_name], options)
            self._clients[key_name] = supabase.storage
        return self._clients[key_name]

    async def list_buckets(self, key_name: str = SERVICE_KEY) -> list[BucketInfo]:
        """``GET /storage/v1/bucket``: the buckets this key may see."""
        with self._failures("/bucket", key_name):
            buckets = await self._client(key_name).list_buckets()
        return [_info(bucket) for bucket in buckets]

    async def find_bucket(self, name: str, key_name: str = SERVICE_KEY) -> BucketInfo | None:
        """``GET /storage/v1/bucket/{name}``; None when Storage says there is no such bucket
        (or, for a key under row-level security, none it may see)."""
        try:
            with self._failures(f"/bucket/{quote(name, safe='')}", key_name):
                bucket = await self._client(key_name).get_bucket(name)
        except StorageRefused as exc:
            if exc.status == "404":
                return None
            raise
        return _info(bucket)

    async def create_bucket(self, name: str, *, public: bool = False) -> None:
        """``POST /storage/v1/bucket`` with the service key."""
        with self._failures("/bucket", SERVICE_KEY):
            await self._client(SERVICE_KEY).create_bucket(name, options={"public": public})

    async def list_objects(
        self, name: str, key_name: str, limit: int = 100
    ) -> list[Mapping[str, Any]]:
        """``POST /storage/v1/object/list/{name}``: the bucket's top-level entries (files,
        and folders with a null id) this key may see; row-level security leaves out the rest
        without an error."""
        with self._failures(f"/object/list/{quote(name, safe='')}", key_name):
            entries = await self._client(key_name).from_(name).list(options={"limit": limit})
        if not isinstance(entries, list):
            raise CheckFailed(
                f"{self.where.endpoint('/object/list/' + name)} answered without a list of "
                "objects.",
                _URL_HINT,
            )
        return [entry for entry in entries if isinstance(entry, Mapping)]

    @contextlib.contextmanager
    def _failures(self, path: str, key_name: str) -> Iterator[None]:
        import httpx
        from storage3.exceptions import StorageApiError
        from storage3.utils import StorageException

        endpoint = self.where.endpoint(path)
        try:
            yield
        except StorageApiError as exc:
            raise _refused(self.ctx, endpoint, key_name, exc) from exc
        except httpx.HTTPError as exc:
            raise explain(exc, endpoint, URL_SETTING) from exc
        except (StorageException, ValueError, TypeError) as exc:
            # A 200 that is not Storage's JSON (pydantic's ValidationError is a ValueError).
            raise CheckFailed(
                f"{endpoint} answered, but not as Supabase Storage does ({type(exc).__name__}).",
                _URL_HINT,
            ) from exc


@contextlib.asynccontextmanager
async def open_storage(ctx: CheckContext) -> AsyncIterator[Storage]:
    """``async with open_storage(ctx) as storage:`` for the project in the env file."""
    where = project(ctx)
    await import_off_loop("supabase")  # ~0.3 s
    http = await open_http_client(ctx)
    _log_exchanges(ctx, where, http)
    async with http:
        yield Storage(ctx, where, http)


def _log_exchanges(ctx: CheckContext, where: Project, http: httpx.AsyncClient) -> None:
    """Each request and its answer into the check's log, naming the key by its variable."""

    async def request(sent: httpx.Request) -> None:
        apikey = sent.headers.get("apikey", "")
        name = next((n for n, key in where.keys.items() if key and key == apikey), "no key")
        ctx.log(f"{sent.method} {sent.url} with {name}")

    async def response(answer: httpx.Response) -> None:
        line = f"{answer.status_code} {_phrase(answer.status_code)}"
        if answer.status_code >= 400:
            # Storage answers 400 to most errors and says the real one in the body.
            await answer.aread()
            document = _document(answer)
            said = _excerpt(ctx, str(document.get("message") or ""))
            status = document.get("statusCode")
            line += f" ({status}: {said})" if status and said else f" ({said})" if said else ""
        ctx.log(line)

    http.event_hooks = {"request": [request], "response": [response]}


def _info(bucket: Any) -> BucketInfo:
    mime_types = bucket.allowed_mime_types
    return BucketInfo(
        name=str(bucket.name),
        public=bool(bucket.public),
        file_size_limit=bucket.file_size_limit,
        allowed_mime_types=tuple(mime_types) if mime_types is not None else None,
    )


def _refused(ctx: CheckContext, endpoint: str, key_name: str, exc: Any) -> StorageRefused:
    """Storage's (or its gateway's) error answer, as a sentence a person can act on."""
    answer = _response(exc)
    http_status = answer.status_code if answer is not None else _int(exc.status)
    document = _document(answer)
    status = str(document.get("statusCode") or exc.status or http_status)
    error = str(document.get("error") or document.get("code") or "")
    said = _excerpt(ctx, str(document.get("message") or "")) or _excerpt(
        ctx, answer.text if answer is not None else str(exc.message)
    )
    said = said or "an empty body"

    def refused(message: str, hint: str, bad_key: bool = False) -> StorageRefused:
        return StorageRefused(
            message,
            hint,
            endpoint=endpoint,
            http_status=http_status,
            status=status,
            error=error,
            bad_key=bad_key,
        )

    if http_status == 401:
        return refused(
            f"Supabase refused {key_name}: {endpoint} answered 401 ({said}).",
            f"The key is wrong, revoked, or from another project than {URL_SETTING}. {KEYS_HINT}",
            bad_key=True,
        )
    if status == "403":
        bad_jwt = any(word in said.lower() for word in _BAD_JWT_WORDS)
        if bad_jwt:
            hint = (
                f"{key_name} was not signed by this project (another project's key, or the "
                f"project's JWT secret was rotated since). {KEYS_HINT}"
            )
        else:
            hint = f"Row-level security does not allow this with {key_name}."
        return refused(
            f"Supabase Storage refused {key_name}: {endpoint} answered {http_status} "
            f"(403 {error or 'Unauthorized'}: {said}).",
            hint,
            bad_key=bad_jwt,
        )
    shown = f"{status} {error}".strip()
    return refused(
        f"{endpoint} answered {http_status} {_phrase(http_status)} ({shown}: {said}).",
        "Supabase may be having trouble (status.supabase.com); or is "
        f"{URL_SETTING} not the project's URL?",
    )


def _response(exc: BaseException) -> httpx.Response | None:
    """The HTTP answer behind an SDK error (storage3 raises it from httpx's status error)."""
    import httpx

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.HTTPStatusError):
            return current.response
        current = current.__cause__ or current.__context__
    return None


def _document(answer: httpx.Response | None) -> dict[str, Any]:
    if answer is None:
        return {}
    try:
        document = json.loads(answer.content)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _excerpt(ctx: CheckContext, text: str) -> str:
    # Secrets masked before the cut: cut first, half a secret would no longer be recognised.
    flat = " ".join(ctx.redactor.text(text).split())
    return flat[:EXCERPT_CHARS] + ("…" if len(flat) > EXCERPT_CHARS else "")
