"""Connection URLs read exactly as the app reads them, and shown without their password.

Provides :func:`parse_url` (a :class:`ParsedURL`, or :class:`URLError`),
:func:`password_readings` (every form a URL's password may be read as, for the redactor),
:func:`reused_public_part` and :func:`urllib_agrees`.

The app builds its engine with SQLAlchemy, whose ``make_url`` does not split a URL the way
``urllib.parse`` does: a password may hold ``/``, ``?``, ``#`` or ``:`` unencoded, where
urllib would take it for the path, the query or a port. Reading URLs with urllib here put
such a password into the host and database name, which every report shows. So this module
follows SQLAlchemy's grammar (``sqlalchemy.engine.url._parse_url``) to the character; it
does not import SQLAlchemy, whose import costs ~0.3 s of start-up, and
``tests/engine/test_urls.py`` proves the two agree.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from checks.redact import MASK

# SQLAlchemy 2.x's grammar, verbatim: username up to the first ":" or "/", password up to
# the first "@", an IPv6 host in brackets, then port, database and query.
_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)

# Query parameters that carry a credential (libpq and asyncpg read both).
_SECRET_QUERY_KEYS = frozenset({"password", "sslpassword"})


class URLError(ValueError):
    """A value that is not a URL this grammar reads. The message never quotes the value."""


@dataclass(frozen=True, repr=False)
class ParsedURL:
    """A URL split as SQLAlchemy splits it; ``repr`` and :meth:`masked` hide the password.

    ``username``, ``password`` and ``database`` are percent-decoded, as SQLAlchemy decodes
    them; ``raw_password`` is the password as written. ``query`` holds the decoded pairs in
    order (blank values dropped, as SQLAlchemy drops them).
    """

    text: str
    scheme: str
    username: str | None
    password: str | None
    raw_password: str | None
    host: str | None
    port: int | None
    database: str | None
    query: tuple[tuple[str, str], ...] = ()
    # Where the credentials sit in ``text``: the password, query credentials and any part
    # of the host before an "@" (which can only be the tail of an unencoded password).
    secret_spans: tuple[tuple[int, int], ...] = field(default=(), compare=False)
    raw_query_secrets: tuple[str, ...] = field(default=(), compare=False)

    def __repr__(self) -> str:
        return f"ParsedURL({self.masked()!r})"

    @property
    def backend(self) -> str:
        """``postgresql`` for ``postgresql+asyncpg``."""
        return self.scheme.split("+", 1)[0]

    @property
    def driver(self) -> str | None:
        """``asyncpg`` for ``postgresql+asyncpg``; None when the scheme names none."""
        _, plus, driver = self.scheme.partition("+")
        return driver if plus else None

    def query_values(self, key: str) -> tuple[str, ...]:
        return tuple(value for name, value in self.query if name == key)

    def query_dict(self) -> dict[str, str | tuple[str, ...]]:
        """The query as SQLAlchemy's ``URL.query``: a repeated key maps to a tuple."""
        out: dict[str, str | tuple[str, ...]] = {}
        for key, value in self.query:
            if key not in out:
                out[key] = value
            else:
                previous = out[key]
                out[key] = (*previous, value) if isinstance(previous, tuple) else (previous, value)
        return out

    def passwords(self) -> tuple[str, ...]:
        """Every credential in the URL, decoded and as written (netloc and query)."""
        forms = [self.password, self.raw_password]
        for key in _SECRET_QUERY_KEYS:
            forms.extend(self.query_values(key))
        forms.extend(self.raw_query_secrets)
        return tuple(dict.fromkeys(f for f in forms if f))

    def masked(self) -> str:
        """The URL as written, with each credential replaced by the mask: by structure, so
        a password that also appears elsewhere in the URL cannot unmask the rest."""
        out, last = [], 0
        for start, end in sorted(self.secret_spans):
            out += [self.text[last:start], MASK]
            last = end
        out.append(self.text[last:])
        return "".join(out)

    def display_host(self, default: str = "localhost") -> str:
        """The host as a message may show it: IPv6 in brackets, anything before "@" masked."""
        host = self.host or default
        if "@" in host:
            host = MASK + "@" + host.rsplit("@", 1)[1]
        return f"[{host}]" if ":" in host else host

    def location(self, default_port: int | None = None, default_host: str = "localhost") -> str:
        """``host:port/database``: where the URL points, without any credential."""
        port = self.port if self.port is not None else default_port
        where = self.display_host(default_host) + (f":{port}" if port is not None else "")
        return where + (f"/{self.database}" if self.database else "")


def parse_url(value: str) -> ParsedURL:
    """``value`` split by SQLAlchemy's grammar; raises :class:`URLError` when it does not fit."""
    m = _URL.match(value)
    if m is None:
        raise URLError("no scheme:// at its start")
    raw_port = m.group("port")
    port: int | None = None
    if raw_port is not None:
        try:
            # int() exactly as SQLAlchemy calls it, so " 5432" and "05432" agree too.
            port = int(raw_port)
        except ValueError:
            raise URLError("its port is not a number") from None
    spans = [m.span("password")] if m.group("password") is not None else []
    host = m.group("ipv4host") or m.group("ipv6host")
    if host is not None and "@" in host:
        host_start = m.start("ipv4host") if m.group("ipv4host") else m.start("ipv6host")
        spans.append((host_start, host_start + host.rindex("@")))
    raw_query = m.group("query")
    query_secrets: list[str] = []
    if raw_query is not None:
        query_start = m.start("query")
        for start, end in _query_secret_spans(raw_query):
            spans.append((query_start + start, query_start + end))
            query_secrets.append(raw_query[start:end])
    return ParsedURL(
        text=value,
        scheme=m.group("name"),
        username=_decoded(m.group("username")),
        password=_decoded(m.group("password")),
        raw_password=m.group("password"),
        host=host,
        port=port,
        database=_decoded(m.group("database")),
        query=tuple(parse_qsl(raw_query)) if raw_query is not None else (),
        secret_spans=tuple(spans),
        raw_query_secrets=tuple(query_secrets),
    )


def _decoded(part: str | None) -> str | None:
    return unquote(part) if part is not None else None


def _query_secret_spans(query: str) -> list[tuple[int, int]]:
    """Offsets of the values of credential parameters, split as ``parse_qsl`` splits."""
    spans, offset = [], 0
    for piece in query.split("&"):
        key, equals, value = piece.partition("=")
        if equals and value and unquote(key.replace("+", " ")) in _SECRET_QUERY_KEYS:
            start = offset + len(key) + 1
            spans.append((start, start + len(value)))
        offset += len(piece) + 1
    return spans


def _urllib_password(value: str) -> tuple[str, ...]:
    """The password as urllib reads it (redis-py, httpx and most clients), both forms."""
    try:
        raw = urlsplit(value).password
    except ValueError:
        return ()
    return (unquote(raw), raw) if raw else ()


def reused_public_part(parsed: ParsedURL) -> str | None:
    """``"database name"`` when the password equals that part of the URL (or user/host).

    Such a password cannot be masked without masking a part every message shows.
    """
    if not parsed.password:
        return None
    for label, part in _public_parts(parsed):
        if parsed.password == part:
            return label
    return None


def _public_parts(parsed: ParsedURL) -> list[tuple[str, str]]:
    parts = [("user name", parsed.username), ("host name", parsed.host)]
    parts += [("database name", parsed.database), ("port", str(parsed.port))]
    return [(label, part) for label, part in parts if part]


def password_readings(value: str) -> tuple[str, ...]:
    """Every string a client may take for this URL's password, decoded and as written.

    SQLAlchemy's reading and urllib's (which redis-py uses) differ when the password holds
    ``/``, ``?``, ``#`` or ``@`` unencoded; both are returned, so the redactor masks
    whichever one a message quotes. A reading equal to a public part of the URL (user,
    host, database name) is left out: masking it would hide that part everywhere and
    reveal the password by its place; the URL's check fails on it instead. Empty for a
    value that is not a URL.
    """
    if "://" not in value:
        return ()
    try:
        parsed: ParsedURL | None = parse_url(value.strip())
    except URLError:
        parsed = None
    forms = [*(parsed.passwords() if parsed else ()), *_urllib_password(value.strip())]
    public = {part for _, part in _public_parts(parsed)} if parsed else set()
    return tuple(dict.fromkeys(f for f in forms if f not in public))


def urllib_agrees(parsed: ParsedURL) -> bool:
    """Whether ``urllib.parse`` (so redis-py) reads the same user, password, host and port."""
    try:
        other = urlsplit(parsed.text)
        other_port = other.port
    except ValueError:
        return False
    ours = (parsed.username or None, parsed.password or None, parsed.port)
    theirs = (
        unquote(other.username) if other.username else None,
        unquote(other.password) if other.password else None,
        other_port,
    )
    # urllib lower-cases the host name; DNS does not care.
    return ours == theirs and (parsed.host or "").lower() == (other.hostname or "")


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (also written as an IPv4-mapped IPv6 address)."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
