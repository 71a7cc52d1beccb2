"""Signing and encryption keys: env.secret-key, env.jwt-secret-key, env.fernet-key,
env.key-rotation, and the actions that generate and rotate them."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from fake_deployment import NOW, Deployment, RunAction, RunCheck

from checks import audit
from checks.core import Status
from checks.environment.encryption import format_timestamp
from checks.environment.signing import weakness
from checks.events import ActionDone, Event, Log
from checks.settings import DeploymentEnv, env_file_mode

KEYS = [
    ("env.secret-key", "SECRET_KEY", "env.generate-secret-key"),
    ("env.jwt-secret-key", "JWT_SECRET_KEY", "env.generate-jwt-secret-key"),
]
OLD_1, OLD_2 = "DATA_ENCRYPTION_KEY_OLD_1", "DATA_ENCRYPTION_KEY_OLD_2"


def done(events: list[Event]) -> ActionDone:
    last = events[-1]
    assert isinstance(last, ActionDone), events
    return last


def preview_of(events: list[Event]) -> str:
    return "\n".join(e.line for e in events if isinstance(e, Log))


def other_lines(text: str, *names: str) -> list[str]:
    """Every line of ``text`` except the assignments of ``names``."""
    prefixes = tuple(f"{name}=" for name in names)
    return [line for line in text.splitlines() if not line.startswith(prefixes)]


# Strength of SECRET_KEY and JWT_SECRET_KEY

WEAK = [
    ("ab12cd34" * 4, "only 16 bytes of hex"),
    (secrets.token_urlsafe(16), "only 22 characters"),
    ("a" * 64, "too few different characters"),
    ("0123456789abcdef" * 4, "a repeated pattern"),
    ("Tr0ub4dor&3-" * 4, "a repeated pattern"),
]
STRONG = [
    secrets.token_hex(32),
    secrets.token_hex(48).upper(),
    secrets.token_urlsafe(32),
    base64.b64encode(secrets.token_bytes(32)).decode(),
    base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
]


# Ids that do not hold the random values: every test process must collect the same tests.
@pytest.mark.parametrize(("value", "reason"), WEAK, ids=[f"weak-{i}" for i in range(len(WEAK))])
def test_weak_keys_are_named_weak(value: str, reason: str) -> None:
    problem = weakness(value)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize("value", STRONG, ids=["hex", "hex-upper", "urlsafe", "base64", "b64url"])
def test_strong_keys_pass(value: str) -> None:
    assert weakness(value) is None


@pytest.mark.parametrize(("check_id", "name", "action_id"), KEYS)
@pytest.mark.parametrize(
    ("value", "says"),
    [
        (WEAK[0][0], "is weak: only 16 bytes of hex"),
        (WEAK[1][0], "is weak: only 22 characters"),
        (WEAK[2][0], "is weak: made of too few different characters"),
        (WEAK[3][0], "is weak: a repeated pattern"),
        ("<generate_with_openssl_rand_hex_32>", "is still the checklist's placeholder"),
        (None, "is not set"),
    ],
    ids=["hex16", "short", "few-characters", "repeated", "placeholder", "unset"],
)
async def test_signing_key_fails_with_the_generate_action(
    deployment: Deployment,
    check: RunCheck,
    check_id: str,
    name: str,
    action_id: str,
    value: str | None,
    says: str,
) -> None:
    deployment.write(**{name: value})
    result = await check(check_id)
    assert result.status == Status.FAIL
    assert f"{name} {says}" in result.message
    assert result.actions == (action_id,)
    if value:
        assert value not in repr(result)


async def test_jwt_secret_key_must_differ_from_secret_key(
    deployment: Deployment, check: RunCheck
) -> None:
    deployment.write(JWT_SECRET_KEY=deployment.values["SECRET_KEY"])
    result = await check("env.jwt-secret-key")
    assert result.status == Status.FAIL
    assert "JWT_SECRET_KEY equals SECRET_KEY; they must be distinct" in result.message
    assert result.actions == ("env.generate-jwt-secret-key",)
    assert (await check("env.secret-key")).status == Status.PASS


@pytest.mark.parametrize(("check_id", "name", "action_id"), KEYS)
async def test_generate_key_replaces_a_weak_key(
    deployment: Deployment,
    check: RunCheck,
    act: RunAction,
    check_id: str,
    name: str,
    action_id: str,
) -> None:
    deployment.write(**{name: "short-and-weak"})
    deployment.env_file.chmod(0o640)  # an unusual mode, to see it kept
    before = deployment.env_file.read_text()

    events = await act(action_id)

    assert done(events).outcome == "ok", events
    after = deployment.env_file.read_text()
    new_value = DeploymentEnv.load(deployment.env_file).values[name]
    assert len(new_value) == 64 and int(new_value, 16) >= 0
    assert new_value not in repr(events)
    assert other_lines(after, name) == other_lines(before, name)
    assert after.startswith("# ToolboxAI production environment\n")
    assert env_file_mode(deployment.env_file) == 0o640
    [backup] = deployment.timestamped_backups()
    assert backup.read_text() == before
    preview = preview_of(events)
    assert "32 new random bytes (64 hex characters); this replaces the current value" in preview
    # The preview names the very key that is written, masked: its last four characters.
    assert f"{name}: ••••{new_value[-4:]}," in preview
    assert (await check(check_id)).status == Status.PASS
    [record] = audit.endings(audit.read(deployment.config.audit_path))
    assert (record.action, record.outcome, record.dangerous) == (action_id, "ok", True)
    assert new_value not in deployment.config.audit_path.read_text()


@pytest.mark.parametrize("action_id", ["env.generate-secret-key", "env.generate-jwt-secret-key"])
async def test_generate_key_sets_a_missing_key(
    deployment: Deployment, act: RunAction, action_id: str
) -> None:
    name = "SECRET_KEY" if action_id == "env.generate-secret-key" else "JWT_SECRET_KEY"
    deployment.write(**{name: None})
    events = await act(action_id)
    assert "sets it (it is empty now)" in preview_of(events)
    assert done(events).outcome == "ok"
    assert weakness(DeploymentEnv.load(deployment.env_file).values[name]) is None


# Fernet keys


@pytest.mark.parametrize(
    ("changes", "says", "actions"),
    [
        ({"DATA_ENCRYPTION_KEY": "not-a-fernet-key"}, "DATA_ENCRYPTION_KEY is not a valid", True),
        ({"DATA_ENCRYPTION_KEY": "<fernet_key_base64>"}, "is still the checklist's", True),
        ({"DATA_ENCRYPTION_KEY": None}, "DATA_ENCRYPTION_KEY is not set", True),
        ({OLD_1: "c2hvcnQ="}, f"{OLD_1} is not a valid Fernet key", False),
        ({OLD_1: "$DATA_ENCRYPTION_KEY"}, f"{OLD_1} equals DATA_ENCRYPTION_KEY", True),
        ({OLD_2: f"${OLD_1}"}, f"{OLD_2} equals {OLD_1}", True),
    ],
)
async def test_fernet_key_failures(
    deployment: Deployment,
    check: RunCheck,
    changes: dict[str, str | None],
    says: str,
    actions: bool,
) -> None:
    resolved = {
        name: deployment.values[value[1:]] if value and value.startswith("$") else value
        for name, value in changes.items()
    }
    deployment.write(**resolved)
    result = await check("env.fernet-key")
    assert result.status == Status.FAIL
    assert says in result.message
    assert result.actions == (("env.rotate-fernet-key",) if actions else ())


async def test_fernet_key_passes_with_two_old_keys(deployment: Deployment, check: RunCheck) -> None:
    deployment.write(**{OLD_2: Fernet.generate_key().decode()})
    result = await check("env.fernet-key")
    assert result.status == Status.PASS
    assert result.evidence["old keys"] == "2"


# LAST_KEY_ROTATION


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-20T00:00:00Z",
        "2026-11-20T00:00:00+00:00",
        "2026-11-20T01:00:00+01:00",
        "2026-11-20",
        format_timestamp(NOW + timedelta(minutes=2)),  # a rotation from a clock a bit ahead
    ],
)
async def test_key_rotation_passes_within_the_month(
    deployment: Deployment, check: RunCheck, stamp: str
) -> None:
    deployment.write(LAST_KEY_ROTATION=stamp)
    assert (await check("env.key-rotation")).status == Status.PASS


async def test_key_rotation_warns_when_due(deployment: Deployment, check: RunCheck) -> None:
    deployment.write(LAST_KEY_ROTATION="2026-10-14T12:00:00Z")
    result = await check("env.key-rotation")
    assert result.status == Status.WARN
    assert result.message.startswith("Key rotation due (last 45 days ago")
    assert result.actions == ("env.rotate-fernet-key",)


async def test_key_rotation_follows_the_configured_limit(
    deployment: Deployment, check: RunCheck
) -> None:
    result = await check("env.key-rotation", deployment.context(key_rotation_days=7))
    assert result.status == Status.WARN
    assert "last 8 days ago" in result.message


@pytest.mark.parametrize(
    ("stamp", "says"),
    [
        ("2027-01-01T00:00:00Z", "LAST_KEY_ROTATION is in the future (2027-01-01T00:00:00Z)"),
        ("last tuesday", "LAST_KEY_ROTATION is not an ISO 8601 timestamp"),
        ("10/10/2025", "LAST_KEY_ROTATION is not an ISO 8601 timestamp"),
        (None, "LAST_KEY_ROTATION is not set"),
    ],
)
async def test_key_rotation_fails_on_bad_timestamps(
    deployment: Deployment, check: RunCheck, stamp: str | None, says: str
) -> None:
    deployment.write(LAST_KEY_ROTATION=stamp)
    result = await check("env.key-rotation")
    assert result.status == Status.FAIL
    assert says in result.message


# Rotating the Fernet key


async def test_rotation_keeps_old_data_readable_and_drops_the_oldest_key(
    deployment: Deployment, check: RunCheck, act: RunAction
) -> None:
    deployment.write(**{OLD_2: Fernet.generate_key().decode()})
    before = deployment.env_file.read_text()
    current, old_1, old_2 = (deployment.values[n] for n in ("DATA_ENCRYPTION_KEY", OLD_1, OLD_2))
    recent = Fernet(current).encrypt(b"encrypted last week")
    older = Fernet(old_1).encrypt(b"encrypted last month")
    oldest = Fernet(old_2).encrypt(b"encrypted long ago")

    events = await act("env.rotate-fernet-key")

    assert done(events).outcome == "ok", events
    preview = preview_of(events)
    assert f"{OLD_1}: the current DATA_ENCRYPTION_KEY." in preview
    assert f"{OLD_2}: the current {OLD_1}." in preview
    assert f"WARNING: the current {OLD_2} is dropped" in preview
    assert "becomes unreadable" in preview

    env = DeploymentEnv.load(deployment.env_file)
    new_key = env.values["DATA_ENCRYPTION_KEY"]
    assert new_key not in (current, old_1, old_2)
    assert (env.values[OLD_1], env.values[OLD_2]) == (current, old_1)
    assert env.values["LAST_KEY_ROTATION"] == "2026-11-28T12:00:00Z"
    keys = [env.values[n] for n in ("DATA_ENCRYPTION_KEY", OLD_1, OLD_2)]
    decrypt = MultiFernet([Fernet(k) for k in keys])
    assert decrypt.decrypt(recent) == b"encrypted last week"
    assert decrypt.decrypt(older) == b"encrypted last month"
    with pytest.raises(InvalidToken):
        decrypt.decrypt(oldest)

    rotated = ("DATA_ENCRYPTION_KEY", OLD_1, OLD_2, "LAST_KEY_ROTATION")
    after = deployment.env_file.read_text()
    assert other_lines(after, *rotated) == other_lines(before, *rotated)
    assert env_file_mode(deployment.env_file) == 0o600
    [backup] = deployment.timestamped_backups()
    assert backup.read_text() == before
    assert new_key not in repr(events)
    assert new_key not in deployment.config.audit_path.read_text()
    assert (await check("env.fernet-key")).status == Status.PASS
    assert (await check("env.key-rotation")).status == Status.PASS


async def test_rotation_with_one_old_key_drops_nothing(
    deployment: Deployment, act: RunAction
) -> None:
    current, old_1 = deployment.values["DATA_ENCRYPTION_KEY"], deployment.values[OLD_1]
    events = await act("env.rotate-fernet-key")
    assert "dropped" not in preview_of(events)
    env = DeploymentEnv.load(deployment.env_file)
    assert (env.values[OLD_1], env.values[OLD_2]) == (current, old_1)


async def test_rotation_replaces_an_invalid_key_without_keeping_it(
    deployment: Deployment, check: RunCheck, act: RunAction
) -> None:
    deployment.write(DATA_ENCRYPTION_KEY="<fernet_key_base64>", **{OLD_1: None})
    events = await act("env.rotate-fernet-key")
    assert "is not a valid Fernet key" in preview_of(events)
    assert "replaced, not kept" in preview_of(events)
    env = DeploymentEnv.load(deployment.env_file)
    assert OLD_1 not in env.values and OLD_2 not in env.values
    assert (await check("env.fernet-key")).status == Status.PASS


async def test_rotation_removes_a_duplicate_key(
    deployment: Deployment, check: RunCheck, act: RunAction
) -> None:
    deployment.write(**{OLD_1: deployment.values["DATA_ENCRYPTION_KEY"]})
    assert (await check("env.fernet-key")).status == Status.FAIL
    await act("env.rotate-fernet-key")
    assert (await check("env.fernet-key")).status == Status.PASS


# Refusals, for every action of the pane

ALL_ACTIONS = [
    "env.generate-secret-key",
    "env.generate-jwt-secret-key",
    "env.rotate-fernet-key",
    "env.tighten-permissions",
    "env.snapshot-backup",
]
DANGEROUS = ALL_ACTIONS[:3]


@pytest.mark.parametrize("action_id", DANGEROUS)
async def test_dangerous_actions_are_refused_without_confirmation(
    deployment: Deployment, act: RunAction, action_id: str
) -> None:
    before = deployment.env_file.read_text()
    events = await act(action_id, confirmed=False)
    assert done(events).outcome == "refused"
    assert "not confirmed" in done(events).message
    assert deployment.env_file.read_text() == before
    assert deployment.timestamped_backups() == []
    [record] = audit.endings(audit.read(deployment.config.audit_path))
    assert (record.action, record.outcome) == (action_id, "refused")


@pytest.mark.parametrize("action_id", ALL_ACTIONS)
async def test_every_action_is_refused_when_read_only(
    deployment: Deployment, act: RunAction, action_id: str
) -> None:
    deployment.env_file.chmod(0o644)
    before = deployment.env_file.read_text()
    backup_before = deployment.backup.read_text()
    events = await act(action_id, deployment.context(read_only=True))
    assert done(events).outcome == "refused"
    assert "read-only" in done(events).message
    assert deployment.env_file.read_text() == before
    assert deployment.backup.read_text() == backup_before
    assert env_file_mode(deployment.env_file) == 0o644
    # Read-only writes nothing at all, the audit log included.
    assert audit.read(deployment.config.audit_path) == []


@pytest.mark.parametrize("action_id", ALL_ACTIONS)
async def test_every_action_refuses_when_the_env_file_cannot_be_read(
    deployment: Deployment, act: RunAction, action_id: str
) -> None:
    deployment.env_file.unlink()
    events = await act(action_id)
    assert "nothing can change" in preview_of(events)
    assert done(events).outcome == "refused"
    assert ".env does not exist" in done(events).message
    assert not deployment.env_file.exists()
    [record] = audit.endings(audit.read(deployment.config.audit_path))
    assert (record.action, record.outcome) == (action_id, "refused")


@pytest.mark.parametrize("action_id", ALL_ACTIONS)
async def test_dry_run_previews_and_changes_nothing(
    deployment: Deployment, act: RunAction, action_id: str
) -> None:
    deployment.env_file.chmod(0o644)
    before = deployment.env_file.read_text()
    events = await act(action_id, dry_run=True)
    assert preview_of(events).strip()
    assert done(events).outcome == "dry-run"
    assert deployment.env_file.read_text() == before
    assert env_file_mode(deployment.env_file) == 0o644


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_key_rotation_survives_timestamps_at_the_ends_of_time(
    deployment: Deployment, check: RunCheck, stamp: str
) -> None:
    deployment.write(LAST_KEY_ROTATION=stamp)
    result = await check("env.key-rotation")
    assert result.status == Status.FAIL
    assert "LAST_KEY_ROTATION is not an ISO 8601 timestamp" in result.message
