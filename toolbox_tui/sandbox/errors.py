"""The error the sandbox raises when a local server cannot be found or started."""

from __future__ import annotations

from pathlib import Path


class SandboxError(RuntimeError):
    """A local server is missing, failed to start or failed a command."""


class NotADemoDirectory(SandboxError):
    """The chosen directory holds something the demo did not write: it is left alone."""


def log_tail(path: Path, secret: str, lines: int = 20) -> str:
    """The last ``lines`` of a server's log, with ``secret`` masked, for an error message.

    Servers do not log their passwords, but a log may echo a command line or a config
    file: masking here keeps any such echo out of tracebacks and CI output.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = "\n".join(text.splitlines()[-lines:])
    return mask(tail, secret) or "(the log is empty)"


def mask(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` replaced by asterisks."""
    return text.replace(secret, "***") if secret else text
