"""The redactor masks every secret of the env file, wherever it appears."""

from __future__ import annotations

from checks.core import CheckResult, Status
from checks.redact import MASK, Redactor, mask
from checks.runner import Finished, Log
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
