"""The redactor masks every secret of the env file, wherever it appears, at a cost that does not
grow with their number, and leaves no control character raw."""

from __future__ import annotations

import random
import re
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.core import CheckResult, Status
from checks.events import Finished, Log
from checks.literals import INDEX_FROM
from checks.redact import MASK, Redactor, escape_controls, mask
from checks.settings import DeploymentEnv


def test_long_secret_keeps_known_prefix_and_last_four() -> None:
    assert mask("sk_live_" + "x" * 20 + "9f2c") == f"sk_live_{MASK}9f2c"
    assert mask("whsec_" + "y" * 20 + "abcd") == f"whsec_{MASK}abcd"


def test_short_secret_is_masked_whole() -> None:
    assert mask("hunter2") == MASK


def test_secret_inside_text_and_nested_structures() -> None:
    secret = "0123456789abcdef0123456789abcdef"
    redactor = Redactor([secret])
    result = CheckResult(
        id="x.y",
        pane="environment",
        title="t",
        status=Status.FAIL,
        message=f"got {secret}",
        hint=f"not {secret}",
        evidence={"key": secret},
    )
    for event in (Finished(result), Log("x.y", f"line {secret} end")):
        assert secret not in repr(redactor.value(event))


def test_longest_secret_wins_when_one_contains_another() -> None:
    redactor = Redactor(["abcd1234", "abcd1234abcd1234abcd1234zzzz"])
    out = redactor.text("v=abcd1234abcd1234abcd1234zzzz")
    assert out == f"v={MASK}zzzz"


def test_env_secrets_include_url_passwords_but_not_public_values(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env_file = tmp_path / ".env"
    env_file.write_text(
        "DATABASE_URL=postgresql://app:s3cr%40t-pass@db:5432/prod\n"
        "PUSHER_KEY=publickey123\n"
        "CUSTOM_API_TOKEN=tok-abcdef\n"
        "APP_ENV=production\n",
        encoding="utf-8",
    )
    secrets = set(DeploymentEnv.load(env_file).secret_values())
    assert "s3cr@t-pass" in secrets  # decoded, as the app would send it
    assert "tok-abcdef" in secrets  # unknown variable, secret by its name
    assert "publickey123" not in secrets
    assert "production" not in secrets


def test_added_secret_is_masked_from_then_on() -> None:
    redactor = Redactor()
    redactor.add("freshly-generated-key-value")
    assert "freshly" not in redactor.text("new key freshly-generated-key-value")


def test_statuses_keep_their_type() -> None:
    redactor = Redactor(["pass-phrase-secret"])
    result = CheckResult(id="x.y", pane="environment", title="t", status=Status.PASS, message="m")
    assert redactor.value(result).status is Status.PASS


def test_escaped_and_url_encoded_forms_are_masked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    redactor = Redactor(["back\\slash'quote-secret"])
    assert "slash" not in redactor.text(repr("back\\slash'quote-secret"))
    env_file = tmp_path / ".env"
    env_file.write_text("DATABASE_URL=postgresql://app:p%40ss-w0rd-long@db/prod\n")
    secrets = set(DeploymentEnv.load(env_file).secret_values())
    assert {"p@ss-w0rd-long", "p%40ss-w0rd-long"} <= secrets


# --- control characters ------------------------------------------------------------------------


def test_control_characters_are_made_visible_after_masking() -> None:
    redactor = Redactor()
    raw = "a\x1b[2Jb\x07c\x00d\x7fe\x85f\x9b31mg\u202eh\u2066i\u2069j\rk\x0bl"
    assert redactor.text(raw) == (
        "a\\x1b[2Jb\\x07c\\x00d\\x7fe\\x85f\\x9b31mg\\u202eh\\u2066i\\u2069j\\x0dk\\x0bl"
    )


def test_newline_tab_and_ordinary_unicode_stay() -> None:
    text = "line one\n\tZoë 🙂 — ü\u200d\u2028"
    assert escape_controls(text) is text
    assert Redactor(["unrelated-secret"]).text(text) == text


def test_a_secret_holding_control_characters_is_masked_whole() -> None:
    secret = "s3cr\x1b]0;title\x07-and-more-of-it"
    redactor = Redactor([secret])
    out = redactor.text(f"value {secret} and {secret!r}")
    assert "s3cr" not in out and "title" not in out
    assert "\x1b" not in out and "\x07" not in out
    assert out.startswith(f"value {MASK}")


def test_escaping_cannot_spell_out_a_secret() -> None:
    # A secret written with a literal backslash escape, and text where the same spot holds
    # the real control character: escaped, the text would read exactly as the secret.
    secret = "abcd\\x1befgh-long-enough"
    out = Redactor([secret]).text("x abcd\x1befgh-long-enough y")
    assert "efgh" not in out


def test_events_are_escaped_at_the_boundary() -> None:
    event = Log("env.file", "\x1b[31mred\x1b[0m name\u202e")
    assert Redactor().value(event) == Log("env.file", "\\x1b[31mred\\x1b[0m name\\u202e")


# --- many secrets ------------------------------------------------------------------------------


def reference_redaction(secrets: list[str], text: str) -> str:
    """What the redactor did with one alternation, longest first."""
    forms = {s for s in secrets if len(s) >= 4}
    forms |= {repr(s)[1:-1] for s in forms}
    if not forms:
        return text
    ordered = sorted(forms, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(s) for s in ordered))
    return pattern.sub(lambda m: mask(m.group(0)), text)


_alphabet = "ab'\\c"
_secret_sets = st.lists(st.text(alphabet=_alphabet, min_size=3, max_size=9), max_size=120)


@settings(max_examples=400, deadline=None, database=None)
@given(_secret_sets, st.lists(st.text(alphabet=_alphabet + " ", max_size=12), max_size=6))
def test_masking_matches_one_longest_first_alternation(
    secrets: list[str], parts: list[str]
) -> None:
    # Texts made of secrets, their pieces and noise: every overlap and prefix case.
    text = " ".join(parts + secrets[:5] + [s[1:] + s for s in secrets[5:8]])
    assert Redactor(secrets).text(text) == reference_redaction(secrets, text)


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.lists(
        st.text(alphabet=_alphabet, min_size=4, max_size=9), min_size=70, max_size=150, unique=True
    ),
    st.lists(st.text(alphabet=_alphabet + " ", max_size=12), max_size=6),
)
def test_masking_many_secrets_matches_one_longest_first_alternation(
    secrets: list[str], parts: list[str]
) -> None:
    # Past INDEX_FROM strings the redactor first narrows them down by their first four
    # characters; that must not change a single match.
    assert len(set(secrets)) >= INDEX_FROM // 2  # with their repr() forms, past it
    text = " ".join(parts + secrets[::7] + [s[2:] + s for s in secrets[1::9]])
    assert Redactor(secrets).text(text) == reference_redaction(secrets, text)


@pytest.mark.parametrize("count", [30, 150, 700])
def test_deeply_nested_secrets_are_masked_like_before(count: int) -> None:
    # Each secret a prefix of the next: a trie as deep as there are secrets, past what the
    # regex compiler (and Python's recursion limit) would take.
    secrets = ["k" * n for n in range(4, 4 + count)]
    text = " ".join("k" * n for n in (1, 3, 4, 5, 17, count // 2, count + 3, 2 * count + 11))
    assert Redactor(secrets).text(text) == reference_redaction(secrets, text)


def test_twenty_thousand_secrets_are_all_masked() -> None:
    # What it costs is measured in benchmarks/env_file_size.py, never asserted here.
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "-_"
    secrets = ["".join(rng.choices(alphabet, k=rng.randint(16, 48))) for _ in range(20_000)]
    redactor = Redactor(secrets)
    event_text = "DATABASE_URL points at db.internal:5432 as user app; the check passed."
    assert redactor.text(event_text) == event_text
    for picked in (0, 12345, 19999):
        assert redactor.text(f"x {secrets[picked]} y") == f"x {mask(secrets[picked])} y"


def test_a_secret_line_swallowed_by_an_unclosed_quote_stays_secret(tmp_path: Path) -> None:
    # APP_ENV's quote is never closed on its line: the next lines become part of its value,
    # which env.app-mode shows. The secret assigned there must still be masked.
    env_file = tmp_path / ".env"
    env_file.write_text(
        'APP_ENV="staging\nSECRET_KEY=swallowed-secret-value-1\nNOTE=closed"\n', encoding="utf-8"
    )
    env = DeploymentEnv.load(env_file)
    assert "SECRET_KEY" not in env.values
    assert "swallowed-secret-value-1" in set(env.secret_values())
    shown = Redactor(env.secret_values()).text(f"APP_ENV is {env.values['APP_ENV']!r}")
    assert "swallowed" not in shown


def test_a_url_swallowed_by_a_single_quoted_name_stays_secret(tmp_path: Path) -> None:
    # A lone ' on a line opens a single-quoted *name* that runs to the next ': the lines in
    # between, a URL with its password included, become part of a variable's name, and names
    # are shown (env.backup-present lists the names that differ). Found by the fuzz test.
    env_file = tmp_path / ".env"
    env_file.write_text(
        "'\nDATABASE_URL=postgresql://app:Pw000000000000@db:5432/prod\nAPP_ENV='\n",
        encoding="utf-8",
    )
    env = DeploymentEnv.load(env_file)
    [name] = env.values
    assert "Pw000000000000" in name
    assert "Pw000000000000" not in Redactor(env.secret_values()).text(name)


def test_the_api_token_is_masked_as_given_and_as_the_checks_send_it() -> None:
    from checks.config import ToolboxConfig

    token = "tbx_planted-api-token-0123456789"
    config = ToolboxConfig(api_token=f"  {token}\n")
    assert set(config.secret_values()) == {f"  {token}\n", token}
    assert ToolboxConfig(api_token=token).secret_values() == (token,)
    redactor = Redactor(config.secret_values())
    assert token not in redactor.text(f"Authorization: Bearer {token}")
