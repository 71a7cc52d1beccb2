"""An SMTP relay that behaves like SendGrid's, on a free loopback port, for the demo sandbox and
the tests.

Provides :class:`SmtpServer`: aiosmtpd in a thread of its own that requires STARTTLS (with a
certificate for 127.0.0.1 from the sandbox's
:class:`~toolbox_tui.sandbox.tls.CertificateAuthority`), offers AUTH PLAIN and LOGIN only after
TLS and requires it before MAIL, and knows one user: ``apikey`` with the SendGrid key as its
password, as smtp.sendgrid.net does. It records every login attempt (never the password)
and every message it accepted (envelope and subject), and delivers nothing.

It runs in this process, in a thread: nothing outlives us, so it needs no watchdog. The
certificate's key is loaded into memory and its temporary directory removed at once.
"""

from __future__ import annotations

import email.parser
import email.policy
import hmac
import logging
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from toolbox_tui.sandbox.errors import SandboxError
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.tls import CertificateAuthority

if TYPE_CHECKING:
    import ssl

HOST = "127.0.0.1"
SENDGRID_USER = "apikey"
SERVER_NAME = "smtp.sandbox.toolbox-tui"
INSTALL_HINT = "pip install 'toolbox-tui[sandbox]'"
_START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it
_READY_TIMEOUT = 10.0


@dataclass(frozen=True)
class Login:
    """One AUTH attempt: who tried, how, and whether it was accepted (never the password)."""

    user: str
    mechanism: str
    accepted: bool


@dataclass(frozen=True)
class ReceivedMessage:
    """A message the server accepted: its envelope, its subject and its raw bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    user: str | None
    """Whom the session had logged in as."""
    data: bytes = field(repr=False)


class SmtpServer:
    """``with SmtpServer(ca, password=key) as smtp:`` then SMTP_HOST=smtp.host,
    SMTP_PORT=smtp.port; ``smtp.messages`` lists what arrived.

    ``user`` and ``password`` may be changed while it runs (the next login is checked against
    them), to break a scenario. ``cert_names`` are the names its certificate is issued for
    (another name makes a host-name mismatch); ``starttls=False`` makes a relay that offers
    no TLS, and therefore no AUTH either. A server starts once; ``stop()`` ends it for good.
    """

    def __init__(
        self,
        ca: CertificateAuthority,
        password: str,
        *,
        user: str = SENDGRID_USER,
        cert_names: Sequence[str] = (HOST,),
        starttls: bool = True,
        host: str = HOST,
    ) -> None:
        self.user = user
        self.password = password
        self.host = host
        self._ca = ca
        self._cert_names = tuple(cert_names)
        self._starttls = starttls
        self._port: int | None = None
        self._controller: Any = None
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self._logins: list[Login] = []

    @property
    def port(self) -> int:
        if self._port is None:
            raise SandboxError("the SMTP server has not started")
        return self._port

    @property
    def messages(self) -> list[ReceivedMessage]:
        """The messages accepted so far, oldest first (a copy)."""
        with self._lock:
            return list(self._messages)

    @property
    def logins(self) -> list[Login]:
        """The AUTH attempts so far, oldest first (a copy)."""
        with self._lock:
            return list(self._logins)

    def clear(self) -> None:
        """Forget the messages and logins recorded so far."""
        with self._lock:
            self._messages.clear()
            self._logins.clear()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on a free loopback port; raises :class:`SandboxError` if it cannot."""
        if self._controller is not None:
            raise SandboxError("this SMTP server is already running")
        try:
            from aiosmtpd.controller import Controller
        except ImportError:
            raise SandboxError(
                f"aiosmtpd is not installed; install it with `{INSTALL_HINT}`"
            ) from None
        _quiet_deprecation()
        tls = self._tls_context() if self._starttls else None
        last_error: Exception | None = None
        for _ in range(_START_ATTEMPTS):
            port = free_port()
            controller = Controller(
                _Handler(self),
                hostname=self.host,
                port=port,
                ready_timeout=_READY_TIMEOUT,
                server_hostname=SERVER_NAME,
                tls_context=tls,
                require_starttls=tls is not None,
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=True,
            )
            try:
                controller.start()
            except OSError as exc:  # the port was taken meanwhile: try another
                last_error = exc
                controller.stop(no_assert=True)
                continue
            self._controller, self._port = controller, port
            return self
        raise SandboxError(f"the SMTP server could not listen on {self.host}: {last_error}")

    def stop(self) -> None:
        """Stop listening, end every session and join the server's thread; safe to repeat."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ------------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        # ssl loads a key from a file only: write it, load it, remove it straight away.
        directory = Path(tempfile.mkdtemp(prefix="toolbox-smtp-"))
        try:
            return self._ca.issue(*self._cert_names).server_context(directory)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        """aiosmtpd's authenticator: the login and password against ``user``/``password``."""
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        # Both compared, always, in constant time: a wrong user must not answer faster.
        user_ok = hmac.compare_digest(auth_data.login, self.user.encode("utf-8"))
        password_ok = hmac.compare_digest(auth_data.password, self.password.encode("utf-8"))
        accepted = user_ok and password_ok
        login = Login(auth_data.login.decode("utf-8", "replace"), mechanism, accepted)
        with self._lock:
            self._logins.append(login)
        # Not handled: aiosmtpd answers 235, or SendGrid's own 535 5.7.8.
        return AuthResult(success=accepted, handled=False, auth_data=auth_data)

    def _received(self, message: ReceivedMessage) -> None:
        with self._lock:
            self._messages.append(message)


class _DropDeprecation(logging.Filter):
    """aiosmtpd 1.4 warns on every successful login that it sets a deprecated attribute of
    its own: noise on the demo's terminal, and nothing we can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


def _quiet_deprecation() -> None:
    logger = logging.getLogger("mail.log")  # aiosmtpd's logger
    if not any(isinstance(f, _DropDeprecation) for f in logger.filters):
        logger.addFilter(_DropDeprecation())


class _Handler:
    """aiosmtpd's handler: accept a message, record it, deliver nothing."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(data)
        login = getattr(getattr(session, "auth_data", None), "login", None)
        self._server._received(
            ReceivedMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                subject=str(headers.get("Subject", "")),
                user=login.decode("utf-8", "replace") if isinstance(login, bytes) else None,
                data=data,
            )
        )
        return "250 2.0.0 Ok: queued as sandbox"
