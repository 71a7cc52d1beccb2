"""The one place that builds network clients from the tool's settings, and explains their
failures.

Provides :func:`http_client` (an ``httpx.AsyncClient`` with short explicit timeouts, TLS that
trusts the system store plus TOOLBOX_CA_BUNDLE, no redirect following unless asked, and a
User-Agent naming toolbox-tui), :func:`open_http_client` (the same, for a check, off the event
loop), :func:`tls_context` and :func:`run_tls_context` (its one copy per run of checks),
:func:`http_failures` (a context manager
that turns httpx's errors into :class:`~checks.core.CheckFailed` with a sentence a person can
act on, naming the endpoint) and :func:`explain`, which builds that sentence.

httpx is imported inside the functions, never at module level: importing it costs ~70 ms,
and the dashboard's first frame must not wait for a client no check has asked for yet.
Reading the system's CA store costs ~35 ms of CPU, under the GIL: forty checks that each read
it at once held the event loop up for seconds, so a run of checks reads it once
(:func:`run_tls_context`) and every connection of the run verifies with that context.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from checks.core import CheckFailed
from checks.envfile import EnvFileTooLarge, EnvFileUnsafe, read_env_bytes
from checks.offloop import import_off_loop

if TYPE_CHECKING:
    import httpx

    from checks.context import CheckContext
    from checks.settings import ToolboxConfig
    from checks.urls import ParsedURL

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
WRITE_TIMEOUT = 10.0
POOL_TIMEOUT = 5.0
# With TOOLBOX_CHECK_TIMEOUT set, each phase ends this long before it (or at half of a short
# one): building the client and the handshakes get that time, and a hung server then reads
# as "no answer within N s" rather than the check's bare "timed out".
_CHECK_TIMEOUT_MARGIN = 1.0
MAX_REDIRECTS = 5
CA_BUNDLE_MAX_BYTES = 8 * 1024 * 1024
_CA_SETTING = "TOOLBOX_CA_BUNDLE (--ca-bundle)"
TARGET_SETTING = "TOOLBOX_TARGET_URL"
_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL
)

# OpenSSL's verify codes (X509_V_ERR_*), grouped by what a person does about them.
NOT_YET_VALID, EXPIRED = 9, 10
NAME_MISMATCH = frozenset({62, 64})  # the host name, the IP address
UNTRUSTED = frozenset({2, 18, 19, 20, 21})  # no issuer, self-signed (leaf or chain), unknown CA
# What OpenSSL says when the other end answered the handshake with something else than TLS.
_NOT_TLS_REASONS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST"}


def user_agent() -> str:
    """``toolbox-tui/0.1.0``: a server's access log says who asked."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"toolbox-tui/{version('toolbox-tui')}"
    except PackageNotFoundError:
        return "toolbox-tui"


def phase_timeout(config: ToolboxConfig, default: float) -> float:
    """``default``, capped below TOOLBOX_CHECK_TIMEOUT when that is set."""
    limit = config.check_timeout
    if limit is None:
        return default
    return min(default, max(limit - _CHECK_TIMEOUT_MARGIN, limit / 2))


def http_client(
    config: ToolboxConfig,
    *,
    verify: ssl.SSLContext | None = None,
    follow_redirects: bool = False,
) -> httpx.AsyncClient:
    """An HTTP client for the deployment's endpoints; use it as ``async with``.

    Timeouts are explicit (connect 5 s, read 10 s, capped by TOOLBOX_CHECK_TIMEOUT), TLS
    trusts the system store plus TOOLBOX_CA_BUNDLE, and redirects are not followed unless
    asked (at most five then): the checklist's ``curl`` does not follow them either. Proxy
    variables (HTTPS_PROXY, NO_PROXY) are honoured, as curl honours them. Bodies are asked
    for uncompressed (``Accept-Encoding: identity``), so that :func:`read_capped` caps what
    crosses the network.

    ``verify``: the TLS context to verify with; None builds one (:func:`tls_context`), which
    raises :class:`CheckFailed` when TOOLBOX_CA_BUNDLE cannot be used and blocks for the
    system store's read. A check calls :func:`open_http_client` instead.
    """
    import httpx

    timeout = httpx.Timeout(
        connect=phase_timeout(config, CONNECT_TIMEOUT),
        read=phase_timeout(config, READ_TIMEOUT),
        write=phase_timeout(config, WRITE_TIMEOUT),
        pool=phase_timeout(config, POOL_TIMEOUT),
    )
    return httpx.AsyncClient(
        verify=tls_context(config.ca_bundle) if verify is None else verify,
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=MAX_REDIRECTS,
        # Bodies uncompressed: read_capped counts what it keeps, and a small compressed
        # chunk must not inflate to gigabytes before it is counted.
        headers={"User-Agent": user_agent(), "Accept-Encoding": "identity"},
    )


async def open_http_client(
    ctx: CheckContext, *, follow_redirects: bool = False
) -> httpx.AsyncClient:
    """:func:`http_client` for a check: it verifies with the run's TLS context, and is built
    in a thread (the first one imports httpx, ~70 ms) so that the event loop keeps going."""
    verify = await run_tls_context(ctx)
    await import_off_loop("httpx")
    # httpx's first request loads anyio's asyncio backend (~0.15 s): here, off the loop.
    with contextlib.suppress(ImportError):
        await import_off_loop("anyio._backends._asyncio")
    return await asyncio.to_thread(
        http_client, ctx.config, verify=verify, follow_redirects=follow_redirects
    )


async def run_tls_context(ctx: CheckContext) -> ssl.SSLContext:
    """:func:`tls_context` for TOOLBOX_CA_BUNDLE, built once per run of checks (in a thread)
    and shared by all of them; when the bundle cannot be used, every check that asks hears
    why. A new run reads the store and the bundle again, so a replaced bundle counts.

    Shared means nobody changes it: a library that loads more CAs into the context it is
    handed (requests does) gets a context of its own."""
    bundle = ctx.config.ca_bundle
    return await ctx.shared(f"tls-context:{bundle}", lambda: asyncio.to_thread(tls_context, bundle))


def tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """A client context that verifies certificates and host names against the system
    store, plus the certificates in ``ca_bundle`` when given.

    The bundle is read without blocking and within a size limit (it may be a FIFO or a
    device on a production host); one that cannot be used raises :class:`CheckFailed`
    naming the path and the setting.
    """
    context = ssl.create_default_context()
    if ca_bundle is not None:
        _trust_bundle(context, ca_bundle)
    return context


def _trust_bundle(context: ssl.SSLContext, path: Path) -> None:
    def unusable(why: str) -> CheckFailed:
        return CheckFailed(
            f"The CA bundle {path} cannot be used: {why}.",
            f"Point {_CA_SETTING} at the PEM file of the CA that issued the endpoint's "
            "certificate, or unset it to trust the system's CAs only.",
        )

    try:
        data = read_env_bytes(path, CA_BUNDLE_MAX_BYTES)
    except FileNotFoundError:
        raise unusable("it does not exist") from None
    except PermissionError:
        raise unusable("it is not readable by this user") from None
    except EnvFileUnsafe:
        raise unusable("it is not a regular file (a directory, a FIFO or a device)") from None
    except EnvFileTooLarge:
        raise unusable(f"it is larger than {CA_BUNDLE_MAX_BYTES:,} bytes") from None
    except OSError as exc:
        raise unusable(exc.strerror or type(exc).__name__) from None
    # Only the certificate blocks: bundles carry comments (some non-ASCII, which ssl's
    # cadata refuses), and a file without any may be one DER certificate.
    blocks = _PEM_CERTIFICATE.findall(data)
    cadata: str | bytes = b"\n".join(blocks).decode("ascii", "replace") if blocks else data
    try:
        context.load_verify_locations(cadata=cadata)
    except (ssl.SSLError, ValueError):
        what = "a PEM certificate it holds is damaged" if blocks else "it holds no certificate"
        raise unusable(what) from None


@contextlib.contextmanager
def http_failures(endpoint: str, url_setting: str = TARGET_SETTING) -> Iterator[None]:
    """Inside, an httpx error becomes :class:`CheckFailed` saying what went wrong with
    ``endpoint`` (the URL as a person may see it: no credentials); hints name ``url_setting``,
    where the address came from."""
    import httpx

    try:
        yield
    except httpx.HTTPError as exc:
        raise explain(exc, endpoint, url_setting) from exc


def explain(exc: httpx.HTTPError, endpoint: str, url_setting: str = TARGET_SETTING) -> CheckFailed:
    """The failure of a request to ``endpoint`` as a sentence and a hint."""
    import httpx

    if isinstance(exc, httpx.ConnectTimeout):
        return connect_timed_out(endpoint, _limit(exc, "connect"))
    if isinstance(exc, httpx.ReadTimeout):
        return read_timed_out(endpoint, _limit(exc, "read"))
    if isinstance(exc, httpx.TimeoutException):
        return CheckFailed(
            f"{endpoint} stalled: {type(exc).__name__} after {_limit(exc, 'write')}.",
            "The server or the network is overloaded; try it with curl from this host.",
        )
    if isinstance(exc, httpx.TooManyRedirects):
        return CheckFailed(
            f"{endpoint} redirected more than {MAX_REDIRECTS} times (a redirect loop?).",
            "Look at the proxy's redirect rules (http->https and back, or a login loop).",
        )
    found = explain_transport(exc, endpoint, url_setting)
    if found is not None:
        return found
    if isinstance(exc, httpx.RemoteProtocolError):
        return CheckFailed(
            f"{endpoint} closed the connection without a proper HTTP answer ({exc}).",
            "Look at the app's and the proxy's logs; the app may have crashed mid-request.",
        )
    return CheckFailed(
        f"The request to {endpoint} failed: {type(exc).__name__}: {exc}",
        "Try it with curl from this host to see more.",
    )


def connect_timed_out(endpoint: str, limit: str) -> CheckFailed:
    return CheckFailed(
        f"No connection to {endpoint} within {limit}: "
        "nothing answered the connection attempt or its TLS handshake.",
        "The host may be down, or a firewall drops the packets; try it with curl from this host.",
    )


def read_timed_out(endpoint: str, limit: str) -> CheckFailed:
    return CheckFailed(
        f"{endpoint} accepted the connection but sent no answer within {limit}.",
        "The service (or the proxy in front of it) is hung or overloaded: look at its "
        "workers and its logs.",
    )


def explain_transport(
    exc: BaseException, endpoint: str, url_setting: str = TARGET_SETTING
) -> CheckFailed | None:
    """What went wrong below HTTP (DNS, TCP, TLS) in ``exc`` or what caused it, whichever
    client library raised it; None when nothing there is recognised."""
    found = list(causes(exc))
    for cause in found:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _untrusted(cause, endpoint, url_setting)
    for cause in found:
        if isinstance(cause, socket.gaierror):
            return CheckFailed(
                f"Cannot resolve the host name of {endpoint}: {cause.strerror or cause}.",
                f"Check the spelling of {url_setting} and this host's DNS (/etc/resolv.conf).",
            )
        if isinstance(cause, ConnectionRefusedError):
            return CheckFailed(
                f"{endpoint} refused the connection: nothing listens on that port.",
                f"Is the service (or its proxy) running, and is the port in {url_setting} right?",
            )
        if isinstance(cause, ssl.SSLError):
            return _tls_failed(cause, endpoint, url_setting)
        if isinstance(cause, ConnectionResetError):
            return CheckFailed(
                f"{endpoint} reset the connection before answering.",
                "A proxy or firewall may be cutting it; look at the proxy's logs.",
            )
    return None


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it, outermost first (httpx wraps httpcore wraps ssl/OSError),
    depth first into exception groups: on a dual-stack host anyio tries every address and
    raises ``OSError("All connection attempts failed")`` caused by a group of one error per
    address, where the ConnectionRefusedError is found."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner: list[BaseException] = []
        if isinstance(current, BaseExceptionGroup):
            inner.extend(current.exceptions)
        link = current.__cause__ or current.__context__
        if link is not None:
            inner.append(link)
        pending[:0] = inner  # a group's members and their causes before the next sibling


def _limit(exc: httpx.HTTPError, phase: str) -> str:
    """``"5 s"``: the timeout the request had for ``phase``, as httpx recorded it."""
    try:
        value = exc.request.extensions.get("timeout", {}).get(phase)
    except RuntimeError:  # an error raised before any request was built
        value = None
    return f"{value:g} s" if isinstance(value, int | float) else "its time limit"


def verify_detail(exc: ssl.SSLCertVerificationError) -> str:
    """Why a certificate failed verification, as OpenSSL says it ("certificate has expired")."""
    return str(exc.verify_message or exc.reason or exc).rstrip(".")


def _untrusted(cause: ssl.SSLCertVerificationError, endpoint: str, url_setting: str) -> CheckFailed:
    detail = verify_detail(cause)
    if cause.verify_code in NAME_MISMATCH:
        return CheckFailed(
            f"The TLS certificate of {endpoint} is for another host name ({detail}).",
            f"Use the name the certificate was issued for in {url_setting}, or reissue "
            "the certificate with this name in its subjectAltName.",
        )
    if cause.verify_code in (EXPIRED, NOT_YET_VALID):
        return CheckFailed(
            f"The TLS certificate of {endpoint} is not valid now ({detail}).",
            "Renew the certificate (and check this host's clock).",
        )
    return CheckFailed(
        f"The TLS certificate of {endpoint} is not trusted ({detail}).",
        f"If a private CA issued it, set {_CA_SETTING} to that CA's PEM file; otherwise "
        "install the full certificate chain on the server.",
    )


def _tls_failed(cause: ssl.SSLError, endpoint: str, url_setting: str) -> CheckFailed:
    if cause.reason in _NOT_TLS_REASONS:
        return CheckFailed(
            f"{endpoint} does not speak TLS on that port (it answered in plain text).",
            f"Use the HTTPS port in {url_setting}, or check the proxy's TLS set-up.",
        )
    return CheckFailed(
        f"The TLS handshake with {endpoint} failed ({cause.reason or cause}).",
        "The server may offer only old TLS versions or ciphers; check its TLS set-up.",
    )


def service_base_url(raw: str, setting: str, *, carries: str, hint: str) -> str:
    """``raw``, a service's base address, checked before any credential is sent to it: http
    or https with a host, no user, password, ?query or #fragment, and plain http only to this
    machine (a sandbox or a test). Returns it without a trailing slash.

    ``setting`` names where it came from and ``carries`` what it would expose
    ("SENDGRID_API_KEY"); ``hint`` says how to put it right. Raises :class:`CheckFailed`.
    """
    from checks.urls import is_loopback

    text = raw.strip()
    parsed = bare_address(text, setting, hint)
    if parsed.scheme.lower() == "http" and not is_loopback(parsed.host or ""):
        raise CheckFailed(
            f"{setting} is http:// to {parsed.display_host()}: {carries} would cross the "
            "network in clear.",
            "Use its https:// address; plain http is allowed only to this machine, for testing.",
        )
    return text.rstrip("/")


def bare_address(
    raw: str, setting: str, hint: str, schemes: tuple[str, ...] = ("https", "http")
) -> ParsedURL:
    """``raw`` parsed, once it is known to be a bare base address: one of ``schemes`` with a
    host, and no user, password, ?query or #fragment (nor anything urllib would read another
    way). Raises :class:`CheckFailed` naming ``setting``, with ``hint``; no message quotes
    ``raw``, as the credentials refused here would be in it."""
    from checks.urls import URLError, parse_url, urllib_agrees

    text = raw.strip()

    def bad(problem: str) -> CheckFailed:
        return CheckFailed(f"{setting} {problem}.", hint)

    try:
        parsed = parse_url(text)
    except URLError as exc:
        raise bad(f"is not a URL ({exc})") from None
    if parsed.scheme.lower() not in schemes or not parsed.host:
        raise bad(f"must be an {schemes[0]}:// address")
    if (
        parsed.username
        or parsed.password is not None
        or not urllib_agrees(parsed)
        or "?" in text
        or "#" in text
    ):
        raise bad("must be a bare base address, without credentials, ?query or #fragment")
    return parsed


async def read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of a streamed body, and whether that was all of it: a body
    larger than any answer asked for is read no further (a wrong URL, a proxy's page).

    The bytes are counted as decoded: :func:`http_client` asks for bodies uncompressed, so
    that is what crossed the network (a server that compresses anyway is still cut at
    ``limit``, after each chunk's decompression)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], False
    return b"".join(chunks), True
