"""sec.encryption-round-trip: the env file's Fernet keys encrypt and decrypt as the app's
MultiFernet does, old data stays readable and rotates to the current key; a malformed or
missing key is named (never shown), and through the runner it is env.fernet-key's to report."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, MultiFernet

from checks.core import Status
from tests.conftest import MakeContext
from tests.integrations.running import run
from tests.security.local_checks import everything_said, run_direct

CHECK = "sec.encryption-round-trip"
CURRENT, OLD_1, OLD_2 = (
    "DATA_ENCRYPTION_KEY",
    "DATA_ENCRYPTION_KEY_OLD_1",
    "DATA_ENCRYPTION_KEY_OLD_2",
)


def keys(**values: str) -> str:
    return "".join(f"{name}={value}\n" for name, value in values.items())


def fresh() -> str:
    return Fernet.generate_key().decode()


async def test_current_and_old_keys_round_trip(make_context: MakeContext) -> None:
    values = {CURRENT: fresh(), OLD_1: fresh(), OLD_2: fresh()}
    ctx = make_context(keys(**values))
    ran = (await run(ctx, CHECK))[CHECK]
    result, lines = ran.result, ran.logs
    assert result.status is Status.PASS, result
    assert f"data under {OLD_1} and {OLD_2} still decrypts and rotates to {CURRENT}" in (
        result.message
    )
    assert any(f"Data under {OLD_2} decrypts" in line for line in lines)
    said = everything_said(result, lines)
    assert not any(value in said for value in values.values())


async def test_current_key_alone_passes(make_context: MakeContext) -> None:
    result = (await run(make_context(keys(DATA_ENCRYPTION_KEY=fresh())), CHECK))[CHECK].result
    assert result.status is Status.PASS
    assert "no old keys kept" in result.message


@pytest.mark.parametrize("slot", [CURRENT, OLD_2])
async def test_a_malformed_key_is_named_not_shown(make_context: MakeContext, slot: str) -> None:
    bad = "PLANTEDnotAFernetKey0123456789abcdefghijkl="  # 44 characters, 31 bytes decoded
    values = {CURRENT: fresh(), OLD_1: fresh(), OLD_2: fresh(), slot: bad}
    ctx = make_context(keys(**values))
    # Run on its own, the check says which key itself.
    outcome, lines = await run_direct(ctx, CHECK)
    assert outcome.status is Status.FAIL
    assert f"{slot} is not a valid Fernet key" in outcome.message
    said = everything_said(outcome, lines)
    assert not any(value in said for value in values.values())
    assert "PLANTED" not in said
    # In a run, env.fernet-key reports it once and this check waits for it to pass.
    ran = await run(ctx, CHECK)
    assert ran["env.fernet-key"].result.status is Status.FAIL
    assert slot in ran["env.fernet-key"].result.message
    assert ran[CHECK].result.status is Status.SKIP
    assert "env.fernet-key" in ran[CHECK].result.message


async def test_missing_current_key(make_context: MakeContext) -> None:
    ctx = make_context(keys(DATA_ENCRYPTION_KEY_OLD_1=fresh()))
    outcome, _ = await run_direct(ctx, CHECK)
    assert outcome.status is Status.FAIL
    assert f"{CURRENT} is not set" in outcome.message
    assert (await run(ctx, CHECK))[CHECK].result.status is Status.SKIP


async def test_placeholder_current_key(make_context: MakeContext) -> None:
    outcome, _ = await run_direct(
        make_context(keys(DATA_ENCRYPTION_KEY="<fernet_key_base64>")), CHECK
    )
    assert outcome.status is Status.FAIL
    assert "placeholder" in outcome.message


async def test_a_rotation_that_does_not_reencrypt_fails(
    make_context: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a broken rotation would do: hand the old token back unchanged, still under the
    # old key, so the current key alone cannot read it.
    monkeypatch.setattr(MultiFernet, "rotate", lambda self, token: token)
    values = {CURRENT: fresh(), OLD_1: fresh()}
    ran = (await run(make_context(keys(**values)), CHECK))[CHECK]
    result, lines = ran.result, ran.logs
    assert result.status is Status.FAIL
    assert (
        f"MultiFernet.rotate() does not re-encrypt data under {OLD_1} with {CURRENT}"
        in result.message
    )
    assert not any(value in everything_said(result, lines) for value in values.values())


async def test_old_data_that_no_longer_decrypts_fails(
    make_context: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An app that built its MultiFernet from the current key only: old data is unreadable.
    built = MultiFernet.__init__

    def current_only(self: MultiFernet, fernets: list[Fernet]) -> None:
        built(self, fernets[:1])

    monkeypatch.setattr(MultiFernet, "__init__", current_only)
    values = {CURRENT: fresh(), OLD_1: fresh()}
    result = (await run(make_context(keys(**values)), CHECK))[CHECK].result
    assert result.status is Status.FAIL
    assert f"Data encrypted with {OLD_1} no longer decrypts" in result.message
    assert f"Restore {OLD_1}" in result.hint
