"""SMTP, live: log in to the relay as the app does, and send nothing.

Provides check ``email.smtp-login`` and what the test-email action (email.py) shares with it:
:func:`relay` (SMTP_HOST, SMTP_PORT, SMTP_USE_TLS and SMTP_USER, read and checked),
:func:`open_session` (connect, STARTTLS or implicit TLS with the certificate and the host name
verified, AUTH with SENDGRID_API_KEY as the password), which turns each way of failing into a
sentence of its own, and :func:`send`.

smtplib is blocking, so sessions run in ``asyncio.to_thread`` with a socket timeout on every
step (capped by TOOLBOX_CHECK_TIMEOUT): a server that accepts the connection and never answers
ends as a failure naming the step, within the check's time, not as a hang. No step ever
sends a credential over a connection without TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from checks.checklist import PRE_DEPLOY
from checks.context import CheckContext
from checks.core import CheckFailed, Outcome, check, passed
from checks.environment.mail import IMPLICIT_TLS_PORT
from checks.findings import Findings, require, require_bool, require_int
from checks.integrations import PANE
from checks.net import explain_transport, phase_timeout, run_tls_context

if TYPE_CHECKING:
    import smtplib
    from email.message import EmailMessage

SMTP_LOGIN = "email.smtp-login"
SMTP_TIMEOUT = 10.0  # per step: connect, greeting, each command and the TLS handshake
CHECK_TIMEOUT = 20.0  # above one step's timeout, so the step's own sentence comes first
PASSWORD = "SENDGRID_API_KEY"
_SERVER_HINT = "Check SMTP_HOST and SMTP_PORT: SendGrid's relay is smtp.sendgrid.net, port 587."

Log = Callable[[str], None]


@dataclass(frozen=True)
class Relay:
    """Where and how the app reaches its SMTP relay (no password: that stays in the env)."""

    host: str
    port: int
    implicit_tls: bool
    """Port 465: TLS from the first byte. Otherwise STARTTLS after the greeting."""
    user: str

    @property
    def endpoint(self) -> str:
        """``smtp.sendgrid.net:587``, as messages name the server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def security(self) -> str:
        return "implicit TLS" if self.implicit_tls else "STARTTLS"


def relay(ctx: CheckContext, findings: Findings) -> Relay | None:
    """The relay the env file names, or None after recording in ``findings`` why not."""
    env = ctx.env
    host = require(env, "SMTP_HOST", findings)
    port = require_int(env, "SMTP_PORT", findings)
    use_tls = require_bool(env, "SMTP_USE_TLS", findings)
    user = require(env, "SMTP_USER", findings)
    if port is not None and not 0 < port < 65536:
        findings.fail(f"SMTP_PORT {port} is not a port number", "Use 587.")
    implicit = port == IMPLICIT_TLS_PORT
    if use_tls is False and not implicit:
        # The login would carry the API key in clear: we never try that, not even to test.
        findings.fail(
            "SMTP_USE_TLS is false: no login is tried without TLS, where SENDGRID_API_KEY "
            "would cross the network in clear",
            "Set SMTP_USE_TLS=true (port 587 with STARTTLS).",
        )
    if findings.failures or host is None or port is None or user is None:
        return None
    return Relay(host.strip(), port, implicit, user.strip())


def thread_log(ctx: CheckContext) -> Log:
    """``ctx.log`` for a worker thread: the line is handed to the event loop, whose queue is
    not thread-safe, in the order the thread wrote it."""
    loop = asyncio.get_running_loop()

    def log(line: str) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody reads the log now
            loop.call_soon_threadsafe(ctx.log, line)

    return log


def _reply(code: int, text: bytes | str) -> str:
    """``535 5.7.8 Authentication credentials invalid`` on one line."""
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return " ".join(f"{code} {words}".split())


def open_session(
    target: Relay, password: str, context: ssl.SSLContext, timeout: float, log: Log
) -> smtplib.SMTP:
    """A session logged in to ``target`` over TLS verified with ``context``
    (:func:`checks.net.run_tls_context`); blocking, for a worker thread.

    Raises :class:`CheckFailed` saying which step failed and how. The caller quits it.
    """
    import smtplib

    client: smtplib.SMTP | None = None
    step = "connect"
    try:
        log(f"Connecting to {target.endpoint} ({target.security}, {timeout:g} s per step)")
        # Connected by the constructor, which also keeps the host name that STARTTLS then
        # verifies the certificate against (connect() alone does not).
        if target.implicit_tls:
            client = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=timeout)
        step = "EHLO"
        log("EHLO")
        client.ehlo()
        if not target.implicit_tls:
            if not client.has_extn("starttls"):
                raise CheckFailed(
                    f"{target.endpoint} does not offer STARTTLS: the login (SENDGRID_API_KEY) "
                    "and every email would cross the network in clear.",
                    f"{_SERVER_HINT} A relay without TLS must not be used.",
                )
            step = "STARTTLS"
            log("STARTTLS")
            client.starttls(context=context)
            step = "EHLO"
            client.ehlo()
        tls = client.sock.version() if isinstance(client.sock, ssl.SSLSocket) else "TLS"
        log(f"{tls}; the certificate is trusted and names {target.host}")
        if not client.has_extn("auth"):
            raise CheckFailed(
                f"{target.endpoint} offers no AUTH after {target.security}, so the app cannot "
                "log in.",
                f"{_SERVER_HINT} SendGrid's relay always offers AUTH over TLS.",
            )
        step = "AUTH"
        log(f"AUTH as {target.user} ({client.esmtp_features.get('auth', '').strip()} offered)")
        log(_reply(*client.login(target.user, password)))
        return client
    except CheckFailed:
        if client is not None:
            client.close()
        raise
    except (smtplib.SMTPException, OSError) as exc:
        if client is not None:
            client.close()
        raise _explain(exc, step, target, timeout) from exc


def _explain(exc: BaseException, step: str, target: Relay, timeout: float) -> CheckFailed:
    """The failure of ``step`` (connect, EHLO, STARTTLS, AUTH) as a sentence and a hint."""
    import smtplib

    where, limit = target.endpoint, f"{timeout:g} s"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return CheckFailed(
            f"{where} refused the login of SMTP_USER {target.user!r} with {PASSWORD} as the "
            f"password ({_reply(exc.smtp_code, exc.smtp_error)}).",
            f"SendGrid's SMTP user is 'apikey' and its password a current API key with Mail "
            f"Send permission: check both, or create a key in SendGrid > Settings > API Keys "
            f"and put it in {PASSWORD}.",
        )
    if isinstance(exc, smtplib.SMTPConnectError):
        return CheckFailed(
            f"{where} turned the session away at once ({_reply(exc.smtp_code, exc.smtp_error)}).",
            "The relay may be overloaded or refuse this host's address; try again later.",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return CheckFailed(
            f"{where} answered {step} with {_reply(exc.smtp_code, exc.smtp_error)}.",
            _SERVER_HINT,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return CheckFailed(f"{where} cannot be logged in to: {exc}.", _SERVER_HINT)
    # smtplib reports a reply that timed out as a disconnection caused by the timeout.
    waited = isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)
    if waited and step == "connect" and isinstance(exc, smtplib.SMTPServerDisconnected):
        return CheckFailed(
            f"{where} accepted the connection but sent no SMTP greeting within {limit}.",
            "Is SMTP_PORT an SMTP port? (465 starts with TLS, 587 with a greeting.) Otherwise "
            "the relay, or a proxy in front of it, is hung.",
        )
    if waited and step == "connect":
        return CheckFailed(
            f"No connection to {where} within {limit}: nothing answered the connection "
            "attempt" + (" or its TLS handshake." if target.implicit_tls else "."),
            "Cloud hosts and firewalls often block outgoing SMTP ports: try "
            f"`nc -vz {target.host} {target.port}` from this host.",
        )
    if waited:
        return CheckFailed(
            f"{where} stopped answering during {step}: nothing came back within {limit}.",
            "The relay, or a proxy in front of it, is hung or overloaded; try again later.",
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        found = explain_transport(exc, where, "SMTP_HOST")
        if found is not None:
            return found
    if isinstance(exc, ssl.SSLError):
        return CheckFailed(
            f"The TLS handshake with {where} failed during {step} ({exc.reason or exc}).",
            "Port 465 expects TLS from the first byte, 587 STARTTLS: does SMTP_PORT match? "
            "Otherwise the relay offers only old TLS versions.",
        )
    if isinstance(exc, socket.gaierror):
        return CheckFailed(
            f"Cannot resolve SMTP_HOST {target.host}: {exc.strerror or exc}.",
            "Check the spelling of SMTP_HOST and this host's DNS (/etc/resolv.conf).",
        )
    if isinstance(exc, ConnectionRefusedError):
        return CheckFailed(
            f"{where} refused the connection: nothing listens on that port.", _SERVER_HINT
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return CheckFailed(
            f"{where} closed the connection during {step}.",
            "The relay may refuse this host's address, or a proxy cut the session; try it "
            f"with `openssl s_client -starttls smtp -connect {where}`.",
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    return CheckFailed(f"{where} failed during {step}: {reason}.", _SERVER_HINT)


def quit_session(client: smtplib.SMTP, log: Log) -> None:
    """QUIT politely; a relay that hangs up first has still done its part."""
    import smtplib

    try:
        log(_reply(*client.quit()))
    except (smtplib.SMTPException, OSError):
        client.close()


def send(
    target: Relay,
    password: str,
    context: ssl.SSLContext,
    timeout: float,
    envelope: tuple[str, str],
    message: EmailMessage,
    log: Log,
) -> str:
    """Send ``message`` from ``envelope``'s sender to its recipient through ``target``;
    blocking. Returns the relay's answer to the message; raises :class:`CheckFailed` naming
    the step that failed."""
    import email.policy
    import smtplib

    sender, recipient = envelope
    client = open_session(target, password, context, timeout, log)
    step = "MAIL FROM"
    try:
        log(f"MAIL FROM:<{sender}>")
        _expect(client.mail(sender), (250,))
        step = "RCPT TO"
        log(f"RCPT TO:<{recipient}>")
        _expect(client.rcpt(recipient), (250, 251))
        step = "DATA"
        log(f"DATA: {message['Subject']}")
        # CRLF line ends, as SMTP wants them: smtplib leaves those of bytes as they are.
        data = message.as_bytes(policy=email.policy.SMTP)
        answer = _reply(*_expect(client.data(data), (250,)))
        log(answer)
    except (smtplib.SMTPException, OSError) as exc:
        client.close()
        failure = _explain(exc, step, target, timeout)
        if step == "MAIL FROM" and isinstance(exc, smtplib.SMTPResponseException):
            failure.hint = (
                "SendGrid accepts mail only from a verified sender: see the check "
                "email.sender-verified, and FROM_EMAIL."
            )
        raise failure from exc
    quit_session(client, log)
    return answer


def _expect(reply: tuple[int, bytes], wanted: tuple[int, ...]) -> tuple[int, bytes]:
    """``reply`` when its code is one of ``wanted``; smtplib's own exception otherwise."""
    import smtplib

    if reply[0] not in wanted:
        raise smtplib.SMTPResponseException(*reply)
    return reply


@check(
    id=SMTP_LOGIN,
    pane=PANE,
    title="SMTP login over TLS",
    timeout=CHECK_TIMEOUT,
    needs=("env.smtp",),
    checklist=(PRE_DEPLOY, "Email service"),
    partial="an email through the app's send_email task reaching the inbox "
    "(the action email.send-test sends one)",
)
async def smtp_login(ctx: CheckContext) -> Outcome:
    findings = Findings()
    target = relay(ctx, findings)
    password = require(ctx.env, PASSWORD, findings)
    if target is None or password is None:
        return findings.outcome("")
    timeout = phase_timeout(ctx.config, SMTP_TIMEOUT)
    log = thread_log(ctx)
    context = await run_tls_context(ctx)

    def login() -> str:
        client = open_session(target, password, context, timeout, log)
        tls = client.sock.version() if isinstance(client.sock, ssl.SSLSocket) else None
        quit_session(client, log)
        return tls or "TLS"

    tls = await asyncio.to_thread(login)
    return passed(
        f"Logged in to {target.endpoint} as {target.user} over {target.security} ({tls}, "
        "certificate verified); no mail was sent.",
        server=target.endpoint,
        tls=tls,
        user=target.user,
    )
