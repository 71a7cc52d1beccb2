"""sec.keys-in-code on real git repositories holding planted keys: each kind is found by file
and line, placeholders, test keys, example env files, binary and oversized files are not
findings, a tracked env file is one; and no planted value reaches the result or the log."""

from __future__ import annotations

import asyncio
import os
import secrets
import string
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from checks.context import CheckContext
from checks.core import Status
from checks.security import keys_in_code
from checks.security.keys_in_code import MAX_FILE_BYTES, SHOWN_FINDINGS
from tests.conftest import MakeContext
from tests.integrations.running import run
from tests.security.local_checks import everything_said, run_direct

CHECK = "sec.keys-in-code"
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "-_"


def random(length: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def legacy_vault_token() -> str:
    # Random, but surely of mixed case with a digit, as real ones are.
    return "s.Ab1" + random(21)


def pem_private_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def git_repo(root: Path, files: dict[str, str | bytes]) -> Path:
    """A git repository under ``root`` whose index holds ``files`` (nothing committed: git
    ls-files lists what is tracked)."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    subprocess.run(["git", "-C", str(root), "add", "--", *files], check=True)
    return root


def context(make_context: MakeContext, repo: Path, env_text: str = "") -> CheckContext:
    return make_context(env_text, code_dir=repo)


@pytest.fixture
def planted() -> dict[str, str]:
    """One live key of every kind the check knows."""
    return {
        "stripe": "sk_live_" + random(99),
        "restricted": "rk_live_" + random(40),
        "webhook": "whsec_" + random(32),
        "sendgrid": f"SG.{random(22, B64)}.{random(43, B64)}",
        "fernet": Fernet.generate_key().decode(),
        "vault": "hvs." + random(90, B64),
        "legacy vault": legacy_vault_token(),
        "aws": "AKIA" + random(16, string.ascii_uppercase + string.digits),
        "pem": pem_private_key(),
    }


def leaky_files(keys: dict[str, str]) -> dict[str, str | bytes]:
    return {
        "app/payments.py": f'import stripe\n\nstripe.api_key = "{keys["stripe"]}"\n',
        "app/reports.py": f"# read-only\nKEY = '{keys['restricted']}'\n",
        "app/webhooks.py": f'\n\n\nSECRET = "{keys["webhook"]}"  # TODO env\n',
        "app/mail.py": f'SENDGRID = "{keys["sendgrid"]}"\n',
        "app/crypto.py": f'import cryptography.fernet\nf = Fernet(b"{keys["fernet"]}")\n',
        "deploy/vault.sh": f"export VAULT_TOKEN={keys['vault']}\nOLD={keys['legacy vault']}\n",
        "infra/aws.tf": f'access_key = "{keys["aws"]}"\n',
        "certs/server.key": keys["pem"],
    }


EXPECTED = {
    ("app/payments.py:3", "Stripe secret key (sk_live_…)"),
    ("app/reports.py:2", "Stripe restricted key (rk_live_…)"),
    ("app/webhooks.py:4", "Stripe webhook secret (whsec_…)"),
    ("app/mail.py:1", "SendGrid API key (SG.…)"),
    ("app/crypto.py:2", "Fernet key (44 characters)"),
    ("deploy/vault.sh:1", "Vault token (hvs.…)"),
    ("deploy/vault.sh:2", "Vault token (legacy) (s.…)"),
    ("infra/aws.tf:1", "AWS access key id (AKIA…)"),
    ("certs/server.key:1", "private key (PEM) (BEGIN PRIVATE KEY)"),
}


def assert_nothing_shown(text: str, values: list[str]) -> None:
    for value in values:
        core = value.split("-----")[2] if value.startswith("-----") else value
        # The value, and its random part without the kind's prefix (which may be shown).
        for piece in {core.strip()[:40], core.strip()[-40:], core[len(core) // 2 :][:12]}:
            assert piece not in text, "a planted key reached what the check says"


async def test_every_kind_is_found_by_file_and_line(
    make_context: MakeContext, tmp_path: Path, planted: dict[str, str]
) -> None:
    repo = git_repo(tmp_path / "repo", leaky_files(planted))
    ctx = context(make_context, repo)
    outcome, lines = await run_direct(ctx, CHECK)
    assert outcome.status is Status.FAIL
    found = {(k, v) for k, v in outcome.evidence.items() if ":" in k}
    assert found == EXPECTED
    assert outcome.message.startswith(
        f"{len(EXPECTED)} findings in {repo} (8 tracked files read): "
    )
    # The first few in the message, the rest counted; every one in the evidence.
    places = sorted(place for place, _ in EXPECTED)
    assert all(f"{place} " in outcome.message for place in places[:SHOWN_FINDINGS])
    assert not any(f"{place} " in outcome.message for place in places[SHOWN_FINDINGS:])
    assert f"and {len(EXPECTED) - SHOWN_FINDINGS} more" in outcome.message
    assert "rotate it at its provider" in outcome.hint
    assert any("git tracks 8 files" in line for line in lines)
    assert_nothing_shown(everything_said(outcome, lines), list(planted.values()))


async def test_nothing_planted_reaches_the_runner_s_events(
    make_context: MakeContext, tmp_path: Path, planted: dict[str, str]
) -> None:
    repo = git_repo(tmp_path / "repo", leaky_files(planted))
    ran = (await run(context(make_context, repo), CHECK))[CHECK]
    assert ran.result.status is Status.FAIL
    assert_nothing_shown(everything_said(ran.result, ran.logs), list(planted.values()))


async def test_placeholders_test_keys_and_examples_are_not_findings(
    make_context: MakeContext, tmp_path: Path
) -> None:
    files: dict[str, str | bytes] = {
        "README.md": (
            "STRIPE_SECRET_KEY=sk_live_<your_live_key>\n"
            "STRIPE_SECRET_KEY=sk_live_your_key\n"
            "STRIPE_SECRET_KEY=sk_live_YOURLIVEKEYGOESHERE0000000\n"
            "STRIPE_WEBHOOK_SECRET=whsec_<your_webhook_secret>\n"
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
            "DATA_ENCRYPTION_KEY=<fernet_key_base64>\n"
            "VAULT_TOKEN=hvs.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
        ),
        "tests/test_payments.py": f'stripe.api_key = "sk_test_{random(99)}"\n',
        ".env.example": "SENDGRID_API_KEY=SG.your_key_id_here_xxxx.your_secret\n",
        # Code that handles keys names their header; that is no key.
        "app/pem.py": 'HEADER = "-----BEGIN PRIVATE KEY-----"\n',
        # Words that look like a legacy Vault token's shape.
        "app/words.py": "x = this.s.abcdefghijklmnopqrstuvwx\n",
    }
    repo = git_repo(tmp_path / "repo", files)
    outcome, _ = await run_direct(context(make_context, repo), CHECK)
    assert outcome.status is Status.PASS, outcome.message
    assert outcome.message == f"No live keys in {repo} (5 tracked files read)."


async def test_a_tracked_env_file_is_a_finding_by_itself(
    make_context: MakeContext, tmp_path: Path
) -> None:
    secret = "sk_live_" + random(99)
    files: dict[str, str | bytes] = {
        ".env": f"STRIPE_SECRET_KEY={secret}\n",
        "config/.env.production": "DEBUG=false\n",
        ".env.example": "STRIPE_SECRET_KEY=sk_live_<your_live_key>\n",
        "app/main.py": "print('hello')\n",
    }
    repo = git_repo(tmp_path / "repo", files)
    outcome, lines = await run_direct(context(make_context, repo), CHECK)
    assert outcome.status is Status.FAIL
    assert outcome.evidence[".env"] == "an env file tracked by git"
    assert outcome.evidence["config/.env.production"] == "an env file tracked by git"
    assert ".env.example" not in outcome.evidence
    assert "git rm --cached" in outcome.hint
    # Not code: its contents are not read, so its key is not a second finding.
    assert outcome.message.startswith(f"2 findings in {repo} (2 tracked files read): .env an env")
    assert_nothing_shown(everything_said(outcome, lines), [secret])


async def test_the_env_file_s_own_secrets_are_found_whatever_their_shape(
    make_context: MakeContext, tmp_path: Path
) -> None:
    service_key = "eyJhbGciOiJIUzI1NiJ9." + random(60, B64)  # a Supabase JWT: no known shape
    password = random(20)
    anon = "eyJhbGciOiJIUzI1NiJ9.anon" + random(40, B64)
    env = (
        f"SUPABASE_SERVICE_KEY={service_key}\n"
        f"SUPABASE_KEY={anon}\n"
        f"DATABASE_URL=postgresql://toolbox:{password}@db.internal/app\n"
        "APP_ENV=production\n"
    )
    files: dict[str, str | bytes] = {
        "app/storage.py": f'\nSERVICE = "{service_key}"\n',
        "app/db.py": f'PASSWORD = "{password}"\n',
        # The anon key is made for browser code: not a finding.
        "web/src/supabase.ts": f'export const anon = "{anon}";\n',
        "app/settings.py": 'APP_ENV = "production"\n',
    }
    repo = git_repo(tmp_path / "repo", files)
    ctx = context(make_context, repo, env)
    outcome, lines = await run_direct(ctx, CHECK)
    assert outcome.status is Status.FAIL
    assert outcome.evidence["app/storage.py:2"] == "the value of SUPABASE_SERVICE_KEY"
    assert outcome.evidence["app/db.py:1"] == "the password in DATABASE_URL"
    assert not any(k.startswith(("web/", "app/settings.py")) for k in outcome.evidence)
    assert_nothing_shown(everything_said(outcome, lines), [service_key, password, anon])


async def test_a_live_key_that_is_also_the_env_file_s_says_both(
    make_context: MakeContext, tmp_path: Path
) -> None:
    key = "sk_live_" + random(99)
    repo = git_repo(tmp_path / "repo", {"app/pay.py": f'KEY = "{key}"\n'})
    outcome, _ = await run_direct(context(make_context, repo, f"STRIPE_SECRET_KEY={key}\n"), CHECK)
    assert outcome.evidence["app/pay.py:1"] == (
        "Stripe secret key, the value of STRIPE_SECRET_KEY (sk_live_…)"
    )


async def test_binary_oversized_and_linked_files_are_skipped_and_counted(
    make_context: MakeContext, tmp_path: Path, planted: dict[str, str]
) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text(f'KEY = "{planted["stripe"]}"\n')
    filler = "# padding\n" * (MAX_FILE_BYTES // 10 + 1)
    files: dict[str, str | bytes] = {
        "assets/logo.png": b"\x89PNG\r\n\x1a\n\0\0" + planted["aws"].encode(),
        "data/huge.py": filler + f'KEY = "{planted["stripe"]}"\n',
        "app/ok.py": "x = 1\n",
    }
    repo = git_repo(tmp_path / "repo", files)
    os.symlink(outside, repo / "app" / "linked.py")
    subprocess.run(["git", "-C", str(repo), "add", "app/linked.py"], check=True)
    outcome, _ = await run_direct(context(make_context, repo), CHECK)
    assert outcome.status is Status.PASS, outcome.message
    assert outcome.message == (
        f"No live keys in {repo} "
        "(1 tracked file read, 3 skipped: 1 binary, 1 over 1 MiB, 1 symbolic links)."
    )
    assert outcome.evidence["skipped"] == "1 binary, 1 over 1 MiB, 1 symbolic links"


async def test_odd_file_names_are_read(make_context: MakeContext, tmp_path: Path) -> None:
    key = "sk_live_" + random(40)
    names = ["tab\there.py", 'quote".py', "back\\slash.py", "é café.py"]
    repo = git_repo(tmp_path / "repo", {name: f'K = "{key}"\n' for name in names})
    outcome, _ = await run_direct(context(make_context, repo), CHECK)
    assert {k.removesuffix(":1") for k in outcome.evidence if k.endswith(":1")} == set(names)


async def test_a_name_that_is_not_utf_8_is_read_and_shown_replaced(
    make_context: MakeContext, tmp_path: Path
) -> None:
    key = "sk_live_" + random(40)
    repo = git_repo(tmp_path / "repo", {"ok.py": "x = 1\n"})
    latin1 = os.fsdecode(b"caf\xe9.py")  # "café.py" written in Latin-1: no UTF-8 name
    (repo / latin1).write_text(f'K = "{key}"\n')
    subprocess.run(["git", "-C", str(repo), "add", "--", latin1], check=True)
    outcome, lines = await run_direct(context(make_context, repo), CHECK)
    assert outcome.status is Status.FAIL, outcome.message
    assert outcome.evidence["caf\ufffd.py:1"] == "Stripe secret key (sk_live_…)"
    assert "caf\ufffd.py:1 Stripe secret key" in outcome.message
    everything_said(outcome, lines).encode("utf-8")  # printable: no undecodable byte left


async def test_a_list_of_files_longer_than_a_line_is_read(
    make_context: MakeContext, tmp_path: Path
) -> None:
    # git ls-files -z prints one NUL-separated "line": here over 64 KiB of it.
    names: dict[str, str | bytes] = {f"pkg/{'m' * 120}_{i:04}.py": "x = 1\n" for i in range(600)}
    key = "sk_live_" + random(40)
    names["pkg/zz_last.py"] = f'K = "{key}"\n'
    repo = git_repo(tmp_path / "repo", names)
    outcome, _ = await run_direct(context(make_context, repo), CHECK)
    assert outcome.status is Status.FAIL, outcome.message
    assert outcome.message.startswith(f"1 finding in {repo} (601 tracked files read)")


async def test_git_is_killed_when_the_check_is_cancelled_or_overruns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing runs as checks.subprocesses runs commands: it never outlives the check."""
    pid_file = tmp_path / "pid"
    argv = ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"]

    async def started() -> int:
        async with asyncio.timeout(10):
            while not pid_file.exists() or not pid_file.read_text().strip():
                await asyncio.sleep(0.01)  # until the child has written its pid
        return int(pid_file.read_text())

    listing = asyncio.ensure_future(keys_in_code._listing(argv, dict(os.environ), tmp_path))
    pid = await started()
    listing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await listing
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped

    pid_file.unlink()
    monkeypatch.setattr(keys_in_code, "LIST_TIMEOUT", 2.0)
    listing = asyncio.ensure_future(keys_in_code._listing(argv, dict(os.environ), tmp_path))
    pid = await started()
    with pytest.raises(TimeoutError):
        await listing
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_an_empty_repository_warns_that_nothing_was_scanned(
    make_context: MakeContext, tmp_path: Path
) -> None:
    repo = git_repo(tmp_path / "repo", {})
    result = (await run(context(make_context, repo), CHECK))[CHECK].result
    assert result.status is Status.WARN, result.message
    assert result.message == f"Nothing was scanned for keys: git tracks no file in {repo}."
    assert "TOOLBOX_CODE_DIR" in result.hint


async def test_a_folder_git_does_not_track_warns_that_nothing_was_scanned(
    make_context: MakeContext, tmp_path: Path
) -> None:
    repo = git_repo(tmp_path / "repo", {"app/main.py": "print('hi')\n"})
    untracked = repo / "deploy"
    untracked.mkdir()
    (untracked / "keys.py").write_text(f'KEY = "sk_live_{random(40)}"\n')
    result = (await run(context(make_context, untracked), CHECK))[CHECK].result
    assert result.status is Status.WARN, result.message
    assert f"git tracks no file in {untracked}" in result.message


async def test_files_that_could_not_be_read_are_no_scan(
    make_context: MakeContext, tmp_path: Path
) -> None:
    repo = git_repo(tmp_path / "repo", {"logo.png": b"\x89PNG\r\n\x1a\n\0\0"})
    result = (await run(context(make_context, repo), CHECK))[CHECK].result
    assert result.status is Status.WARN, result.message
    assert result.message == (
        f"Nothing was scanned for keys: none of the 1 file(s) git tracks in {repo} could be "
        "read (1 binary)."
    )


async def test_not_a_git_repository_warns_and_names_the_setting(
    make_context: MakeContext, tmp_path: Path
) -> None:
    plain = tmp_path / "checkout"
    plain.mkdir()
    (plain / "app.py").write_text(f'KEY = "sk_live_{random(40)}"\n')
    result = (await run(context(make_context, plain), CHECK))[CHECK].result
    assert result.status is Status.WARN
    assert f"{plain} is not a git repository" in result.message
    assert "TOOLBOX_CODE_DIR" in result.hint


async def test_a_missing_code_directory_warns(make_context: MakeContext, tmp_path: Path) -> None:
    result = (await run(context(make_context, tmp_path / "nowhere"), CHECK))[CHECK].result
    assert result.status is Status.WARN
    assert "is not a directory" in result.message


async def test_app_dir_is_the_default(make_context: MakeContext, tmp_path: Path) -> None:
    git_repo(tmp_path, {"app/main.py": "print('hi')\n"})
    ctx = make_context("APP_ENV=production\n")  # app_dir is tmp_path, code_dir unset
    result = (await run(ctx, CHECK))[CHECK].result
    assert result.status is Status.PASS
    assert result.message == f"No live keys in {tmp_path} (1 tracked file read)."
