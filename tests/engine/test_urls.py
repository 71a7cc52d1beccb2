"""The URL parser reads every form exactly as SQLAlchemy's ``make_url`` (the app's parser),
masks by structure, and the database and Redis code built on it never shows a password."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ArgumentError

from checks.health.redis_cache import _where
from checks.postgres import DatabaseUnavailable, parse_database_url, redacted_location
from checks.redact import MASK
from checks.settings import DeploymentEnv, url_password
from checks.urls import (
    URLError,
    parse_url,
    password_readings,
    reused_public_part,
    urllib_agrees,
)

SLASH_PASSWORD = "/Zq8xK2pL9vB4nM7qW1eR5tY3uI6oP0aS"
SLASH_URL = f"postgresql://toolboxai:{SLASH_PASSWORD}@db.internal:5432/toolboxai_prod"

Fields = tuple[object, ...] | None


def sqlalchemy_fields(value: str) -> Fields:
    try:
        url = make_url(value)
    except (ValueError, ArgumentError):
        return None
    query = dict(url.query)
    return (url.drivername, url.username, url.password, url.host, url.port, url.database, query)


def our_fields(value: str) -> Fields:
    try:
        p = parse_url(value)
    except URLError:
        return None
    return (p.scheme, p.username, p.password, p.host, p.port, p.database, p.query_dict())


CORPUS = [
    SLASH_URL,
    "postgresql+asyncpg://toolboxai:/Zq8@db.internal/toolboxai_prod",
    "postgresql://u:p@ss@host/db",  # "@" unencoded: SQLAlchemy ends the password at the first
    "postgresql://u:p%40ss@host/db",
    "postgresql://u:p%2Fss%3F%23%25@host:5432/db",
    "postgresql://u:a:b:c@host/db",
    "postgresql://u:pa?ss@host/db",
    "postgresql://u:pa#ss@host/db",
    "postgresql://u:pa/ss?x=1#y@host/db?sslmode=require",
    "postgresql://u:100%@host/db",
    "postgresql://u:%zz%4@host/db",
    "postgresql://u:@host/db",
    "postgresql://u@host/db",
    "postgresql://@host/db",
    "postgresql://host/db",
    "postgresql://u:pw@[::1]:5432/db",
    "postgresql://u:pw@[2001:db8::1]/db",
    "postgresql+asyncpg://u:pw@/db?host=/var/run/postgresql",
    "postgresql://u:pw@/db?host=db1:5432&host=db2:5433",
    "postgresql://u:pw@/db?host=db1,db2&port=5432,5433",
    "postgresql://u:pw@h/db?sslmode=require&application_name=a+b&x=%20&blank=",
    "postgresql://u:pw@h/db?a=1&a=2&a=3",
    "postgresql://u@h/db?password=s3cr%2Ft",
    "postgresql://u:pw@host",
    "postgresql://u:pw@host:5432",
    "postgresql://u:pw@host/",
    "postgresql://user",
    "postgresql://user@",
    "postgresql://",
    "postgresql://ü:pässwörd@hôst/dätäbase",
    "postgresql://u:%C3%BC@h/d%C3%A4%2Fx",
    "postgresql://u:pw@h: 5432/db",
    "postgresql://u:pw@h:05432/db",
    "postgresql://u:pw@h:99999/db",
    "postgresql://u:pw@host/db/extra",
    "postgresql://u:pw@host/db#frag",
    "postgres://u:pw@host/db",
    "redis://:pw@cache:6379/0",
    "redis://default:pw@cache/1",
    "rediss://:pw@cache:6380",
    "mysql+pymysql://u:pw@h:3306/db?charset=utf8mb4",
    "https://abcd.supabase.co",
    "https://vault.toolboxai.local:8200/v1?x=y",
    # Not URLs, or a port that is not a number: both refuse.
    "postgresql://u:pw@host:/db",
    "postgresql://u:pw@host:port/db",
    "postgresql://u:pw@host:5432:1/db",
    "host:5432/db",
    "://x",
    "post-gres://u:pw@h/db",
    " postgresql://u:pw@h/db",
    "",
]


@pytest.mark.parametrize("value", CORPUS)
def test_agrees_with_sqlalchemy_on_odd_forms(value: str) -> None:
    assert our_fields(value) == sqlalchemy_fields(value)


def test_the_corpus_covers_both_outcomes() -> None:
    # A parser that refused everything would agree on the refusals alone.
    assert sum(sqlalchemy_fields(v) is None for v in CORPUS) == 8


def _either(part: str) -> st.SearchStrategy[str]:
    """A URL component as written: raw, or percent-encoded as a careful person would."""
    return st.sampled_from([part, quote(part, safe="")])


# URL delimiters often, so that most examples put one where it changes the reading.
_CHARS = st.one_of(st.sampled_from(list(":/?#@%[]&=+ ")), st.characters(codec="utf-8"))
_TEXT = st.text(_CHARS, max_size=12)
_HOSTS = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True),
    st.sampled_from(["[::1]", "[2001:db8::1]", "[fe80::1%25eth0]", "127.0.0.1", ""]),
)
_QUERY = st.one_of(
    st.lists(st.tuples(st.sampled_from(["host", "port", "sslmode", "a", "password"]), _TEXT)).map(
        urlencode
    ),
    _TEXT,
)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["postgresql", "postgresql+asyncpg", "postgres", "redis"]))
    url = f"{scheme}://"
    user = draw(st.none() | _TEXT.flatmap(_either))
    if user is not None:
        password = draw(st.none() | _TEXT.flatmap(_either))
        url += user + (f":{password}" if password is not None else "") + "@"
    url += draw(_HOSTS)
    port = draw(st.none() | st.integers(0, 65535).map(str) | _TEXT)
    url += f":{port}" if port is not None else ""
    database = draw(st.none() | _TEXT.flatmap(_either))
    url += f"/{database}" if database is not None else ""
    query = draw(st.none() | _QUERY)
    return url + (f"?{query}" if query is not None else "")


@settings(max_examples=400, deadline=None)
@given(urls())
def test_agrees_with_sqlalchemy_on_urls_built_from_random_parts(value: str) -> None:
    assert our_fields(value) == sqlalchemy_fields(value)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["postgresql://", "redis://", ""]), st.text(_CHARS, max_size=60))
def test_agrees_with_sqlalchemy_on_any_text(prefix: str, rest: str) -> None:
    assert our_fields(prefix + rest) == sqlalchemy_fields(prefix + rest)


@settings(max_examples=300, deadline=None)
@given(urls())
def test_masking_replaces_the_password_and_nothing_else(value: str) -> None:
    try:
        parsed = parse_url(value)
    except URLError:
        return
    if parsed.host and "@" in parsed.host:
        return  # the host's "@"-prefix is masked too; covered below
    masked, original = make_url(parsed.masked()), make_url(value)
    assert masked.password == (None if original.password is None else MASK)
    assert (masked.drivername, masked.username, masked.host, masked.port, masked.database) == (
        original.drivername,
        original.username,
        original.host,
        original.port,
        original.database,
    )
    assert dict(masked.query) == {k: _masked_value(k, v) for k, v in original.query.items()}


def _masked_value(key: str, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
    if key not in ("password", "sslpassword"):
        return value
    return tuple(MASK for _ in value) if isinstance(value, tuple) else MASK


def test_slash_password_is_the_password_not_the_host() -> None:
    parsed = parse_url(SLASH_URL)
    assert (parsed.username, parsed.password) == ("toolboxai", SLASH_PASSWORD)
    assert (parsed.host, parsed.port, parsed.database) == ("db.internal", 5432, "toolboxai_prod")
    assert parsed.location() == "db.internal:5432/toolboxai_prod"
    assert parsed.masked() == f"postgresql://toolboxai:{MASK}@db.internal:5432/toolboxai_prod"
    assert SLASH_PASSWORD[1:9] not in repr(parsed)


def test_unencoded_at_masks_the_passwords_tail_in_the_host() -> None:
    parsed = parse_url("postgresql://u:first@second-part@db.internal/prod")
    assert parsed.host == "second-part@db.internal"  # as SQLAlchemy reads it
    assert "second" not in parsed.masked() and "second" not in parsed.location()
    assert parsed.location(default_port=5432) == f"{MASK}@db.internal:5432/prod"


def test_ipv6_location_keeps_its_brackets() -> None:
    assert parse_url("postgresql://u:pw@[::1]:5433/db").location() == "[::1]:5433/db"


def test_driver_and_backend() -> None:
    parsed = parse_url("postgresql+asyncpg://u:pw@h/db")
    assert (parsed.backend, parsed.driver) == ("postgresql", "asyncpg")
    assert parse_url("redis://h").driver is None


@pytest.mark.parametrize(
    "value",
    [
        f"postgresql://toolboxai:pw@db.internal:{SLASH_PASSWORD[1:]}/db",
        f"no-scheme {SLASH_PASSWORD}",
    ],
)
def test_errors_never_quote_the_url(value: str) -> None:
    with pytest.raises(URLError) as caught:
        parse_url(value)
    assert SLASH_PASSWORD[1:] not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_readings_include_sqlalchemys_and_urllibs() -> None:
    assert SLASH_PASSWORD in password_readings(SLASH_URL)
    # SQLAlchemy ends the password at the first "@", urllib at the last: both are secret.
    readings = password_readings("redis://:first-half@second-half@cache:6379/0")
    assert {"first-half", "first-half@second-half"} <= set(readings)
    encoded = password_readings("postgresql://u:p%2Fss%40word@h/db")
    assert {"p/ss@word", "p%2Fss%40word"} <= set(encoded)
    assert {"s3cr/t", "s3cr%2Ft"} <= set(password_readings("postgresql://u@h/db?password=s3cr%2Ft"))
    assert password_readings("not a url") == ()


@pytest.mark.parametrize(
    ("value", "part"),
    [
        ("postgresql://app:toolboxai_prod@db/toolboxai_prod", "database name"),
        ("postgresql://toolbox:toolbox@db/prod", "user name"),
        ("redis://:cache.internal@cache.internal:6379/0", "host name"),
    ],
)
def test_password_equal_to_a_public_part_is_not_taught(value: str, part: str) -> None:
    assert reused_public_part(parse_url(value)) == part
    assert password_readings(value) == ()


def test_secret_values_teach_the_slash_password(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"DATABASE_URL={SLASH_URL}\nOTHER_URL=https://u:{SLASH_PASSWORD}x@h\n")
    secrets = set(DeploymentEnv.load(env_file).secret_values())
    assert {SLASH_PASSWORD, SLASH_PASSWORD + "x"} <= secrets
    assert url_password(SLASH_URL) == SLASH_PASSWORD


@pytest.mark.parametrize(
    ("value", "agrees"),
    [
        ("redis://:plain-password@cache:6379/0", True),
        ("redis://:p%2Fw@Cache.Internal:6379/0", True),
        ("redis://:pa/ss@cache:6379/0", False),
        ("redis://:pa?ss@cache:6379/0", False),
        ("redis://:pa#ss@cache:6379/0", False),
        ("redis://:1234/5678@cache:6379/0", False),
    ],
)
def test_urllib_agreement(value: str, agrees: bool) -> None:
    assert urllib_agrees(parse_url(value)) is agrees


def test_database_target_reads_the_slash_password() -> None:
    target = parse_database_url(SLASH_URL)
    assert (target.host, target.port, target.user) == ("db.internal", 5432, "toolboxai")
    assert (target.password, target.database) == (SLASH_PASSWORD, "toolboxai_prod")
    assert redacted_location(target) == "db.internal:5432/toolboxai_prod"
    assert SLASH_PASSWORD not in repr(target)


@pytest.mark.parametrize(
    ("value", "host", "port"),
    [
        ("postgresql+asyncpg://u:pw@/db?host=/var/run/postgresql", "/var/run/postgresql", 5432),
        ("postgresql://u:pw@/db?host=/run/pg&port=5433", "/run/pg", 5433),
        ("postgresql://u:pw@ignored:1/db?host=db2.internal:5433", "db2.internal", 5433),
        ("postgresql://u:pw@[::1]:5433/db", "::1", 5433),
        ("postgresql://u:pw@h/db", "h", 5432),
    ],
)
def test_database_target_server_and_dsn_round_trip(value: str, host: str, port: int) -> None:
    target = parse_database_url(value)
    assert (target.host, target.port) == (host, port)
    again = parse_database_url(target.dsn)
    assert again == target
    assert make_url(target.dsn).password == target.password


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_dsn_carries_any_password_and_database(password: str, database: str) -> None:
    target = parse_database_url(f"postgresql://u:{quote(password, safe='')}@h:5432/x")
    target = target.with_database(database)
    url = make_url(target.dsn)
    assert (url.password, url.database, url.host, url.port) == (password, database, "h", 5432)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("postgresql://u:pw@/db?host=db1:5432&host=db2:5432", "several servers"),
        ("postgresql://u:pw@/db?host=db1,db2", "several servers"),
        ("postgresql://u:first@second@db/prod", "contains '@'"),
        ("postgresql://u:pw@db:70000/prod", "between 1 and 65535"),
        ("postgresql://u:pw@db/prod?port=fast", "port is not a number"),
        ("postgresql://u:pw@db:pg/prod", "cannot be parsed"),
        ("mysql://u:pw@db/prod", "not PostgreSQL"),
    ],
)
def test_database_target_refusals_are_explained(value: str, says: str) -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        parse_database_url(value)
    assert says in str(caught.value)
    assert "first" not in str(caught.value) and "second" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("redis://:pw@cache.internal:6379/0", "cache.internal:6379/0"),
        ("redis://:1234/5678@cache:6380", "cache:6380"),  # urllib read localhost:1234
        ("redis://:pa?ss@cache", "cache:6379"),
        ("redis://cache:port/0", "the host in REDIS_URL"),
    ],
)
def test_redis_location_never_shows_the_password(value: str, where: str) -> None:
    assert _where(value) == where
