"""Health pane, HTTPS of the deployed app: ``tls.certificate`` and ``tls.https-redirect``.

``tls.certificate`` opens a TLS connection to TOOLBOX_TARGET_URL's host and port, verifying as
every other check does (the system store plus TOOLBOX_CA_BUNDLE, and the host name), and says
how many days the certificate has left: WARN under 21, FAIL under 7 or expired. When the
verification fails it says which way (another host name, an untrusted issuer, expired) and
still reports the certificate's subject, issuer and dates, read from a second handshake that
verifies nothing. A plain-http target (allowed to a loopback address, for local testing) has
no certificate: the check skips.

``tls.https-redirect`` asks the app's plain-http address (TOOLBOX_TARGET_HTTP_URL, or
``http://<target host>/``) without following redirects: a permanent redirect (301/308) to
https on the same host passes; a temporary one (302/307) or one to another host warns; an
answer served in clear, a redirect to anything but https, or any other status fails. A closed
http port only warns: nothing is served in clear, but a browser given the bare name errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from checks.checklist import SECURITY
from checks.context import CheckContext
from checks.core import CheckFailed, Outcome, Status, check, failed, passed, warned
from checks.health import PANE
from checks.net import (
    CONNECT_TIMEOUT,
    EXPIRED,
    NAME_MISMATCH,
    NOT_YET_VALID,
    UNTRUSTED,
    bare_address,
    causes,
    connect_timed_out,
    explain_transport,
    phase_timeout,
    run_tls_context,
    verify_detail,
)
from checks.urls import parse_url
from checks.web import CHECK_TIMEOUT, Answer, Target, fetch, no_target, printable, target

if TYPE_CHECKING:
    from cryptography import x509

WARN_DAYS = 21
FAIL_DAYS = 7
HTTPS_GAP = (
    "only TOOLBOX_TARGET_URL's host is checked (other endpoints' certificates and "
    "redirects are not), nor the TLS versions and ciphers offered"
)
HTTP_SETTING = "TOOLBOX_TARGET_HTTP_URL"
_CA_SETTING = "TOOLBOX_CA_BUNDLE"
_PERMANENT = (301, 308)


# --- tls.certificate ------------------------------------------------------------------------


@check(
    id="tls.certificate",
    pane=PANE,
    title="TLS certificate trusted, not expiring",
    timeout=CHECK_TIMEOUT,
    checklist=(SECURITY, "HTTPS on all endpoints"),
    partial=HTTPS_GAP,
)
async def tls_certificate(ctx: CheckContext) -> Outcome:
    where = target(ctx)
    if where is None:
        return no_target()
    parsed = parse_url(where.base)  # target() has read it already: it parses
    if parsed.scheme.lower() != "https":
        return Outcome(
            Status.SKIP,
            "TOOLBOX_TARGET_URL is plain http:// to this machine (local testing): there is "
            "no certificate to check.",
            hint="Point TOOLBOX_TARGET_URL at the app's https:// address to check it.",
        )
    host = parsed.host or ""
    port = parsed.port or 443
    endpoint = f"https://{parsed.display_host()}:{port}"
    verifying = await run_tls_context(ctx)
    limit = phase_timeout(ctx.config, CONNECT_TIMEOUT)
    ctx.log(f"TLS handshake with {endpoint}, verifying")
    problem: ssl.SSLCertVerificationError | None = None
    try:
        der = await _peer_certificate(host, port, verifying, limit, endpoint)
    except ssl.SSLCertVerificationError as exc:
        problem = exc
        ctx.log(f"not verified ({exc.verify_message}); reading it without verifying")
        der = await _peer_certificate(host, port, _unverifying(), limit, endpoint)
    return _judge_certificate(ctx, endpoint, host, der, problem)


async def _peer_certificate(
    host: str, port: int, context: ssl.SSLContext, limit: float, endpoint: str
) -> bytes:
    """The server's certificate (DER) from a handshake under ``context``; raises
    :class:`ssl.SSLCertVerificationError` as is, and :class:`CheckFailed` for the rest."""
    try:
        async with asyncio.timeout(limit):
            _, writer = await asyncio.open_connection(
                host,
                port,
                ssl=context,
                server_hostname=host,
                # Longer than the limit around it, which then says what timed out.
                ssl_handshake_timeout=limit + 1,
            )
    except TimeoutError:
        raise connect_timed_out(endpoint, f"{limit:g} s") from None
    except ssl.SSLCertVerificationError:
        raise
    except (OSError, ssl.SSLError) as exc:
        raise explain_transport(exc, endpoint) or CheckFailed(
            f"The TLS connection to {endpoint} failed: {exc}",
            "Try it with `openssl s_client -connect host:port` from this host.",
        ) from None
    try:
        tls = writer.get_extra_info("ssl_object")
        der = tls.getpeercert(binary_form=True) if tls is not None else None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1)
    if not der:
        raise CheckFailed(f"{endpoint} sent no certificate.", "Check the server's TLS set-up.")
    return bytes(der)


def _unverifying() -> ssl.SSLContext:
    # Only to read what the server presents once verification has failed: nothing is sent.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _judge_certificate(
    ctx: CheckContext,
    endpoint: str,
    host: str,
    der: bytes,
    problem: ssl.SSLCertVerificationError | None,
) -> Outcome:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    now = ctx.clock()
    expires = cert.not_valid_after_utc
    days = int((expires - now).total_seconds() // 86400)
    names = _names(cert)
    shown = {
        "subject": printable(
            _common_name(cert.subject) or cert.subject.rfc4514_string(), ctx.redactor
        ),
        "issuer": printable(
            _common_name(cert.issuer) or cert.issuer.rfc4514_string(), ctx.redactor
        ),
        "names": printable(", ".join(names) or "(none)", ctx.redactor),
    }
    facts = {
        **shown,
        "not_before": _date(cert.not_valid_before_utc),
        "not_after": _date(expires),
        "days_left": str(days) if expires > now else "none (expired)",
        "verified": "yes" if problem is None else printable(verify_detail(problem), ctx.redactor),
    }
    about = (
        f"(subject {shown['subject']}, issued by {shown['issuer']}, for {shown['names']}; "
        f"{_expiry(expires, now, days)})"
    )
    # Every message leads with the verdict and the days left, the address after: a narrow
    # column shows only the start.
    if problem is not None:
        label, why, hint = _verification_failure(problem, host, shown, expires, now)
        return failed(f"{label}: the TLS certificate of {endpoint} {why} {about}.", hint, **facts)
    if expires <= now:  # a clock ahead of OpenSSL's, or a second too late
        return failed(
            f"Expired: the TLS certificate of {endpoint} has expired {about}.", _RENEW, **facts
        )
    summary = (
        f"the TLS certificate of {endpoint} is trusted and valid for {host}, issued by "
        f"{shown['issuer']}; it expires on {_date(expires)}"
    )
    if days < FAIL_DAYS:
        return failed(
            f"Expires in {_days(days)}, under {FAIL_DAYS} days: {summary}.", _RENEW, **facts
        )
    if days < WARN_DAYS:
        return warned(
            f"Expires in {_days(days)}, under {WARN_DAYS} days: {summary}.", _RENEW, **facts
        )
    return passed(f"Trusted, {_days(days)} left: {summary}.", **facts)


_RENEW = (
    "Renew the certificate now (certbot renew, or your CA's portal), install it, reload "
    "the web server, and check that its renewal job runs."
)


def _verification_failure(
    problem: ssl.SSLCertVerificationError,
    host: str,
    shown: dict[str, str],
    expires: datetime,
    now: datetime,
) -> tuple[str, str, str]:
    """What the verification failure means, and what to do: (a short verdict to lead the
    message, sentence part, hint)."""
    code = problem.verify_code
    if code in NAME_MISMATCH:
        return (
            "Wrong host name",
            f"is for another host name: it does not name {host}",
            f"Reissue the certificate with {host} in its subjectAltName, or use a name it "
            "was issued for in TOOLBOX_TARGET_URL.",
        )
    if code == EXPIRED:
        return "Expired", "has expired", _RENEW
    if code == NOT_YET_VALID:
        return (
            "Not valid yet",
            "is not valid yet",
            "Check this host's clock and the server's; reissue the certificate if its "
            "start date is wrong.",
        )
    if code in UNTRUSTED:
        return (
            "Untrusted issuer",
            f"is from an untrusted issuer ({verify_detail(problem)}): neither the system's CAs nor "
            f"{_CA_SETTING} trust {shown['issuer']}",
            f"Install the full chain (the intermediate certificates) on the server; if a "
            f"private CA issued it, set {_CA_SETTING} to that CA's PEM file.",
        )
    if expires <= now:
        return "Expired", "has expired", _RENEW
    return (
        "Not verified",
        f"failed verification ({verify_detail(problem)})",
        "Inspect it with `openssl s_client -connect host:port -showcerts` from this host.",
    )


def _names(cert: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    dns = san.get_values_for_type(x509.DNSName)
    addresses = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    return [*dns, *addresses]


def _common_name(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _days(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


def _expiry(expires: datetime, now: datetime, days: int) -> str:
    if expires <= now:
        ago = int((now - expires).total_seconds() // 86400)
        return f"expired on {_date(expires)}, {_days(ago)} ago"
    return f"expires on {_date(expires)}, in {_days(days)}"


# --- tls.https-redirect ---------------------------------------------------------------------


@check(
    id="tls.https-redirect",
    pane=PANE,
    title="Plain http redirects to https",
    timeout=CHECK_TIMEOUT,
    checklist=(SECURITY, "HTTPS on all endpoints"),
    partial=HTTPS_GAP,
)
async def https_redirect(ctx: CheckContext) -> Outcome:
    plain = _plain_address(ctx)
    if isinstance(plain, Outcome):
        return plain
    url, host = plain
    try:
        answer = await fetch(ctx, Target(url, HTTP_SETTING), "")
    except CheckFailed as exc:
        if not _refused(exc):
            raise
        return warned(
            f"Connection refused: nothing listens on {url}, so nothing is served in clear, "
            f"but a browser given the bare name {host} gets an error instead of the site.",
            f"Listen on that port and answer every request with a 301 to https://{host}/ "
            "(nginx: `return 301 https://$host$request_uri;`).",
        )
    return _judge_redirect(answer, url, host)


def _plain_address(ctx: CheckContext) -> tuple[str, str] | Outcome:
    """The http:// address to ask and the host a redirect must keep; an Outcome (a skip)
    when there is none. Raises :class:`CheckFailed` for a TOOLBOX_TARGET_HTTP_URL it
    cannot use (never quoting it: it may hold credentials)."""
    given = (ctx.config.target_http_url or "").strip()
    if given:
        hint = "Write it as http://your-domain.com/ (the address that must redirect)."
        parsed = bare_address(given, HTTP_SETTING, hint, schemes=("http",))
        return given, (parsed.host or "").lower()
    where = target(ctx)
    if where is None:
        return no_target()
    parsed = parse_url(where.base)
    if parsed.scheme.lower() != "https":
        return Outcome(
            Status.SKIP,
            "TOOLBOX_TARGET_URL is plain http:// to this machine (local testing): there is no "
            "https to redirect to.",
            hint=f"Set {HTTP_SETTING} to the app's plain-http address to check its redirect.",
        )
    host = parsed.display_host()
    return f"http://{host}/", (parsed.host or "").lower()


def _refused(exc: CheckFailed) -> bool:
    """Whether the request failed because nothing listens (httpx's error, and what caused
    it, hang below the CheckFailed; on a dual-stack host, inside an exception group)."""
    return any(isinstance(cause, ConnectionRefusedError) for cause in causes(exc))


def _judge_redirect(answer: Answer, url: str, host: str) -> Outcome:
    location = urljoin(url, answer.location) if answer.location else ""
    facts = {**answer.evidence(), "location": answer.shown(location) or "(none)"}
    fix = (
        f"Answer every plain-http request with a 301 to https://{host}/ and the same path "
        "(nginx: `return 301 https://$host$request_uri;`)."
    )
    if answer.status_code == 200:
        return failed(
            f"Answered 200 in clear at {url}: the app is served without TLS, where it must "
            "redirect to https.",
            fix,
            **facts,
        )
    if not 300 <= answer.status_code < 400:
        return failed(
            f"Answered {answer.status_text}, not a redirect to https, at {url}: {answer.excerpt()}",
            fix,
            **facts,
        )
    if not location:
        return failed(f"Answered {answer.status_text} without a Location at {url}.", fix, **facts)
    went = answer.shown(location)
    try:
        parts = urlsplit(location)
        scheme, to_host = parts.scheme.lower(), (parts.hostname or "").lower()
    except ValueError:
        scheme, to_host = "", ""
    if scheme != "https":
        return failed(
            f"Not a redirect to https: {url} redirects to {went}, so the next request is in "
            "clear too.",
            fix,
            **facts,
        )
    if to_host != host.strip("[]"):
        return warned(
            f"Redirects to https on another host: {url} redirects to {went}, not to {host}.",
            "Fine if that is the site's canonical name (www.); otherwise redirect to "
            f"https://{host}/.",
            **facts,
        )
    if answer.status_code not in _PERMANENT:
        return warned(
            f"Temporary redirect ({answer.status_text}): {url} redirects to {went}, so "
            "browsers ask over http again every time.",
            "Make it permanent: 301 (or 308).",
            **facts,
        )
    return passed(
        f"Permanent redirect ({answer.status_code}) to https: {url} answered "
        f"{answer.status_text} to {went}.",
        **facts,
    )
