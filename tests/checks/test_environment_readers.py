"""The environment pane reads Fernet keys and JWT claims without importing cryptography or
PyJWT (~40 ms of every run): these prove the readers agree with the libraries."""

from __future__ import annotations

import base64
import json

import jwt
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.environment.encryption import is_fernet_key
from checks.environment.storage import unverified_jwt_claims


def fernet_accepts(value: str) -> bool:
    try:
        Fernet(value.strip())
    except (ValueError, TypeError):
        return False
    return True


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


fernet_like = st.one_of(
    st.binary(min_size=30, max_size=34).map(b64),
    st.binary(min_size=32, max_size=32).map(lambda b: " " + b64(b).rstrip("=") + "\n"),
    st.text(max_size=50),
    st.text(alphabet="ABCabc012-_=+/", min_size=40, max_size=48),
)


@settings(max_examples=400, derandomize=True)
@given(fernet_like)
def test_fernet_keys_are_judged_as_fernet_judges_them(value: str) -> None:
    assert is_fernet_key(value) == fernet_accepts(value)


def pyjwt_claims(token: str) -> dict[str, object]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def segment(value: object) -> str:
    return b64(json.dumps(value).encode()).rstrip("=")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)

tokens = st.one_of(
    st.builds(
        lambda claims: jwt.encode(claims, "a-signing-key-of-thirty-two-bytes!", algorithm="HS256"),
        st.dictionaries(st.sampled_from(["role", "ref", "iss", "iat"]), st.text(max_size=8)),
    ),
    st.builds(
        lambda header, claims, tail: f"{segment(header)}.{segment(claims)}.{tail}",
        st.one_of(st.just({"alg": "HS256", "typ": "JWT"}), json_values),
        json_values,
        st.sampled_from(["sig", "", "a*b", "AAAA"]),
    ),
    st.text(max_size=60),
    st.text(alphabet="abcXYZ019-_.", max_size=60),
)


@settings(max_examples=400, derandomize=True)
@given(tokens)
def test_jwt_claims_are_read_as_pyjwt_reads_them(token: str) -> None:
    assert unverified_jwt_claims(token) == pyjwt_claims(token)
