"""Free TCP ports on the loopback interface, for the sandbox's local servers."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now.

    The kernel picks it; the socket is closed before returning, so another process could
    take the port before the caller binds it: callers retry on "address in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
