"""The storage checks and the create-bucket action against a Supabase Storage stand-in that
speaks the real wire format over TLS (proved with the real supabase SDK below), and a
VirusTotal stand-in. Each check passes against a healthy peer, and fails against a broken one
for the reason its message names."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

import checks.environment
import checks.integrations.storage_checks
from checks.checklist import all_refs
from checks.config import ToolboxConfig
from checks.context import CheckContext
from checks.core import CheckFailed, CheckResult, Outcome, Plan, Status, registry
from checks.events import ActionDone
from checks.redact import Redactor
from checks.runner import build_plan
from checks.settings import DeploymentEnv
from tests.conftest import FIXED_NOW
from tests.web_servers import WebServer, json_reply, silent_port
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.supabase_storage import (
    ANON,
    SERVICE_ROLE,
    Bucket,
    SupabaseStorage,
)
from toolbox_tui.sandbox.tls import CertificateAuthority

from .conftest import write_env

# Relative: the very module pytest loaded for the fixtures (this directory is a package).
from .running import assert_fails, check, fix, run
from .storage_fixtures import (
    BUCKET,
    JWT_SECRET,
    OBJECTS,
    OTHER_SECRET,
    OTHER_VT_KEY,
    VT_KEY,
    VirusTotalApi,
)

assert checks.environment and checks.integrations.storage_checks  # env.* and storage.*

REACHABLE = "storage.reachable"
PRIVATE = "storage.bucket-private"
ANON_LIST = "storage.anon-cannot-list"
VIRUS = "storage.virus-scanning"
CREATE = "storage.create-bucket"
STORAGE_CHECKS = (REACHABLE, PRIVATE, ANON_LIST, VIRUS)

StorageContext = Callable[..., CheckContext]


@dataclass(frozen=True)
class Keys:
    anon: str
    service: str


# --- fixtures -------------------------------------------------------------------------------


async def act(ctx: CheckContext, plan: Plan | None = None) -> tuple[list[str], ActionDone]:
    return await fix(ctx, CREATE, plan)


@pytest.fixture(scope="session")
def storage_server(
    sandbox_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SupabaseStorage]:
    tls = sandbox_ca.issue("127.0.0.1").server_context(tmp_path_factory.mktemp("supabase"))
    with SupabaseStorage(JWT_SECRET, tls=tls) as server:
        yield server


@pytest.fixture(scope="session")
def keys(storage_server: SupabaseStorage) -> Keys:
    return Keys(storage_server.sign_key(ANON), storage_server.sign_key(SERVICE_ROLE))


@pytest.fixture
def storage(storage_server: SupabaseStorage) -> SupabaseStorage:
    """The session's stand-in, healthy: a private user-uploads holding files under row-level
    security, a public avatars bucket beside it, nothing recorded. A test may break it."""
    server = storage_server
    server.jwt_secret = JWT_SECRET
    server.buckets = {}
    server.add_bucket(BUCKET, objects=list(OBJECTS))
    server.add_bucket("avatars", public=True, objects=["logo.png"])
    server.anon_reads_buckets = False
    server.hang = False
    server.clear()
    return server


@pytest.fixture(scope="session")
def virustotal_server() -> Iterator[VirusTotalApi]:
    with VirusTotalApi(VT_KEY) as server:
        yield server


@pytest.fixture
def virustotal(virustotal_server: VirusTotalApi) -> VirusTotalApi:
    virustotal_server.api_key = VT_KEY
    virustotal_server.quota_exceeded = False
    virustotal_server.requests.clear()
    return virustotal_server


@pytest.fixture
def storage_context(
    tmp_path: Path,
    storage: SupabaseStorage,
    virustotal: VirusTotalApi,
    ca_bundle: Path,
    keys: Keys,
) -> StorageContext:
    """``storage_context(env={"SUPABASE_KEY": None}, check_timeout=2)``: a context over an env
    file naming the stand-in and its keys (``env`` overrides values; None removes one), with
    the settings trusting the test CA and pointing VirusTotal at its stand-in."""

    def make(*, env: Mapping[str, str | None] | None = None, **config: object) -> CheckContext:
        values: dict[str, str | None] = {
            "APP_ENV": "production",
            "SUPABASE_URL": storage.url,
            "SUPABASE_KEY": keys.anon,
            "SUPABASE_SERVICE_KEY": keys.service,
            "ENABLE_VIRUS_SCANNING": "true",
            "VIRUSTOTAL_API_KEY": VT_KEY,
            **(env or {}),
        }
        env_file = write_env(tmp_path / ".env", values)
        settings: dict[str, object] = {
            "env_file": env_file,
            "app_dir": tmp_path,
            "ca_bundle": ca_bundle,
            "virustotal_api_url": virustotal.url,
            **config,
        }
        loaded = DeploymentEnv.load(env_file)
        return CheckContext(
            loaded,
            ToolboxConfig(**settings),  # type: ignore[arg-type]
            Redactor(loaded.secret_values()),
            clock=lambda: FIXED_NOW,
        )

    return make


# --- helpers --------------------------------------------------------------------------------


# --- the stand-in speaks Supabase Storage to the real SDK -----------------------------------


# supabase's own default storage client passes storage3 arguments it has deprecated.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_stand_in_speaks_storage_s_wire_format_to_the_real_sdk() -> None:
    from storage3.exceptions import StorageApiError
    from supabase import create_client

    with SupabaseStorage(JWT_SECRET, buckets=[Bucket(BUCKET, objects=list(OBJECTS))]) as fake:
        service = create_client(fake.url, fake.sign_key(SERVICE_ROLE)).storage
        [bucket] = service.list_buckets()
        assert (bucket.id, bucket.name, bucket.public) == (BUCKET, BUCKET, False)
        assert service.get_bucket(BUCKET).name == BUCKET
        assert service.create_bucket("avatars", options={"public": True}) == {"name": "avatars"}
        assert service.get_bucket("avatars").public is True
        listed = service.from_(BUCKET).list()
        assert [(e["name"], e["id"] is None) for e in listed] == [
            ("tenant-1", True),
            ("tenant-2", True),
            ("welcome.txt", False),
        ]
        assert [e["name"] for e in service.from_(BUCKET).list("tenant-1")] == ["report.pdf"]
        with pytest.raises(StorageApiError) as missing:
            service.get_bucket("nope")
        assert (missing.value.status, missing.value.message) == ("404", "Bucket not found")
        with pytest.raises(StorageApiError) as duplicate:
            service.create_bucket(BUCKET)
        assert duplicate.value.status == "409"

        # The anon key, under row-level security: sees no bucket (public or not) and no file.
        anon = create_client(fake.url, fake.sign_key(ANON)).storage
        assert anon.list_buckets() == []
        assert anon.from_(BUCKET).list() == []
        with pytest.raises(StorageApiError) as hidden:
            anon.get_bucket("avatars")
        assert hidden.value.status == "404"
        with pytest.raises(StorageApiError) as rls:
            anon.create_bucket("mine")
        assert rls.value.status == "403"
        assert "row-level security" in rls.value.message
        fake.anon_reads_buckets = True
        fake.buckets[BUCKET].anon_can_list = True
        assert {b.name for b in anon.list_buckets()} == {BUCKET, "avatars"}
        assert len(anon.from_(BUCKET).list()) == 3

        # A key signed with another secret stops at the gateway.
        stranger = create_client(fake.url, fake.sign_key(SERVICE_ROLE, secret=OTHER_SECRET))
        with pytest.raises(StorageApiError) as refused:
            stranger.storage.list_buckets()
        assert refused.value.status == 401
        assert "Invalid API key" in refused.value.message

    roles = [(r.method, r.path, r.role, r.status) for r in fake.requests]
    assert roles[0] == ("GET", "/storage/v1/bucket", SERVICE_ROLE, 200)
    assert ("GET", "/storage/v1/bucket/nope", SERVICE_ROLE, 400) in roles
    assert roles[-1] == ("GET", "/storage/v1/bucket", None, 401)
    assert all(r.client_info.startswith("supabase-py/") for r in fake.requests)


def test_the_stand_in_refuses_what_supabase_refuses() -> None:
    import httpx

    with SupabaseStorage(JWT_SECRET) as fake:
        base = f"{fake.url}/storage/v1/bucket"
        service, anon = fake.sign_key(SERVICE_ROLE), fake.sign_key(ANON)
        expired = fake.sign_key(SERVICE_ROLE, now=FIXED_NOW.replace(year=2001))
        with httpx.Client() as client:
            no_key = client.get(base)
            # A valid apikey, but a Bearer token signed elsewhere: the storage server refuses.
            forged = client.get(
                base,
                headers={
                    "apikey": anon,
                    "Authorization": "Bearer " + fake.sign_key(ANON, secret=OTHER_SECRET),
                },
            )
            old = client.get(
                base, headers={"apikey": service, "Authorization": f"Bearer {expired}"}
            )
            elsewhere = client.get(f"{fake.url}/rest/v1/things", headers={"apikey": service})
    assert no_key.status_code == 401
    assert no_key.json()["message"] == "No API key found in request"
    assert forged.status_code == 400
    assert forged.json() == {
        "statusCode": "403",
        "code": "AccessDenied",
        "error": "Unauthorized",
        "message": "signature verification failed",
    }
    assert (old.status_code, old.json()["message"]) == (400, '"exp" claim timestamp check failed')
    assert elsewhere.status_code == 404


def test_the_stand_in_stops_cleanly_even_with_a_request_hanging() -> None:
    before = set(threading.enumerate())
    with SupabaseStorage(JWT_SECRET) as fake:
        fake.hang = True
        port = fake.port
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        client.sendall(b"GET /storage/v1/bucket HTTP/1.1\r\nHost: x\r\n\r\n")
        assert fake.wait_for_hung_request()
        started = set(threading.enumerate()) - before
    client.close()
    assert started
    assert not any(thread.is_alive() for thread in started)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


# --- storage.reachable ----------------------------------------------------------------------


async def test_reachable_passes_through_the_sdk_over_tls(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    ran = (await run(storage_context(), REACHABLE))[REACHABLE]
    result = ran.result
    assert result.status is Status.PASS, (result.message, result.hint)
    assert result.message == (
        f"Supabase Storage at {storage.url}/storage/v1 answers SUPABASE_SERVICE_KEY: 2 buckets."
    )
    [request] = storage.requests
    assert (request.method, request.path, request.role) == (
        "GET",
        "/storage/v1/bucket",
        SERVICE_ROLE,
    )
    assert request.user_agent.startswith("toolbox-tui")
    assert request.client_info.startswith("supabase-py/")
    assert ran.logs == [
        f"GET {storage.url}/storage/v1/bucket with SUPABASE_SERVICE_KEY",
        "200 OK",
    ]


async def test_reachable_fails_with_a_service_key_of_another_project(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    storage.jwt_secret = OTHER_SECRET  # the project's keys were signed with another secret
    result = await check(storage_context(), REACHABLE)
    assert_fails(
        result,
        f"Supabase refused SUPABASE_SERVICE_KEY: {storage.url}/storage/v1/bucket answered 401 "
        "(Invalid API key)",
        "from another project than SUPABASE_URL",
        "Project Settings > API",
    )


async def test_reachable_fails_when_nothing_listens(storage_context: StorageContext) -> None:
    url = f"https://127.0.0.1:{free_port()}"
    result = await check(storage_context(env={"SUPABASE_URL": url}), REACHABLE)
    assert_fails(result, f"{url}/storage/v1/bucket refused the connection", "SUPABASE_URL")


async def test_reachable_fails_in_time_when_storage_never_answers(
    storage_context: StorageContext, sandbox_ca: CertificateAuthority, tmp_path: Path
) -> None:
    tls = sandbox_ca.issue("127.0.0.1").server_context(tmp_path)
    with SupabaseStorage(JWT_SECRET, tls=tls) as wedged:
        wedged.hang = True
        url = wedged.url
        result = await check(storage_context(env={"SUPABASE_URL": url}, check_timeout=2), REACHABLE)
    assert_fails(
        result, f"{url}/storage/v1/bucket accepted the connection but sent no answer within 1 s"
    )


async def test_reachable_fails_in_time_when_the_port_never_speaks_tls(
    storage_context: StorageContext,
) -> None:
    with silent_port() as port:
        url = f"https://127.0.0.1:{port}"
        result = await check(storage_context(env={"SUPABASE_URL": url}, check_timeout=2), REACHABLE)
    assert_fails(result, f"No connection to {url}/storage/v1/bucket within 1 s")


async def test_reachable_fails_on_a_certificate_from_an_unknown_ca(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    result = await check(storage_context(ca_bundle=None), REACHABLE)
    assert_fails(
        result,
        f"The TLS certificate of {storage.url}/storage/v1/bucket is not trusted",
        "TOOLBOX_CA_BUNDLE",
    )
    assert storage.requests == []  # no key was ever sent


async def test_reachable_fails_on_something_else_than_storage(
    storage_context: StorageContext, sandbox_ca: CertificateAuthority, tmp_path: Path
) -> None:
    tls = sandbox_ca.issue("127.0.0.1").server_context(tmp_path)
    async with WebServer({"/storage/v1/bucket": json_reply({"hello": "world"})}, tls) as other:
        result = await check(storage_context(env={"SUPABASE_URL": other.url}), REACHABLE)
    assert_fails(
        result,
        f"{other.url}/storage/v1/bucket answered, but not as Supabase Storage does",
        "Is SUPABASE_URL the project's URL",
    )


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://storage.example.com", "SUPABASE_URL is http:// to storage.example.com"),
        ("https://user:pw@abc.supabase.co", "without credentials"),
        ("ftp://abc.supabase.co", "must be an https:// address"),
    ],
)
async def test_the_url_must_not_expose_the_keys(
    storage_context: StorageContext, storage: SupabaseStorage, url: str, said: str
) -> None:
    ctx = storage_context(env={"SUPABASE_URL": url})
    with pytest.raises(CheckFailed, match=said.replace("/", ".").replace(":", ".")):
        await registry.checks[REACHABLE].func(ctx)
    assert storage.requests == []


async def test_storage_checks_wait_for_the_static_supabase_check(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    ran = await run(storage_context(env={"SUPABASE_SERVICE_KEY": None}), PRIVATE, ANON_LIST)
    assert ran["env.supabase"].result.status is Status.FAIL
    for check_id in (REACHABLE, PRIVATE, ANON_LIST):
        assert ran[check_id].result.status is Status.SKIP
    assert storage.requests == []


# --- storage.bucket-private -----------------------------------------------------------------


async def test_bucket_private_passes(storage_context: StorageContext) -> None:
    result = await check(storage_context(), PRIVATE)
    assert result.status is Status.PASS, (result.message, result.hint)
    assert result.message == f"The bucket {BUCKET} exists and is private."
    assert result.evidence == {
        "bucket": BUCKET,
        "file size limit": "none",
        "allowed mime types": "any",
    }


async def test_bucket_private_fails_when_the_bucket_is_missing_and_offers_the_action(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    del storage.buckets[BUCKET]
    result = await check(storage_context(), PRIVATE)
    assert_fails(
        result,
        f"The bucket {BUCKET} is missing from Supabase Storage ({storage.url})",
        "'Create the upload bucket'",
    )
    assert result.actions == (CREATE,)


async def test_bucket_private_fails_when_the_bucket_is_public_and_offers_no_fix(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    storage.buckets[BUCKET].public = True
    result = await check(storage_context(), PRIVATE)
    assert_fails(
        result,
        f"The bucket {BUCKET} is public: anyone with a file's URL downloads it",
        f"Supabase > Storage > {BUCKET} > Edit bucket",
        "stops working",
    )
    assert result.actions == ()


async def test_bucket_private_reads_the_bucket_setting(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    result = await check(storage_context(storage_bucket="avatars"), PRIVATE)
    assert_fails(result, "The bucket avatars is public")


# --- storage.anon-cannot-list ---------------------------------------------------------------


async def test_anon_cannot_list_passes_under_row_level_security(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    result = await check(storage_context(), ANON_LIST)
    assert result.status is Status.PASS, (result.message, result.hint)
    assert result.message == (
        f"SUPABASE_KEY lists none of the files in {BUCKET}, nor sees the bucket: row-level "
        "security hides them from the anon role."
    )
    asked = [(r.path, r.role) for r in storage.requests if r.path.startswith("/storage/v1/object")]
    assert asked == [
        (f"/storage/v1/object/list/{BUCKET}", ANON),
        (f"/storage/v1/object/list/{BUCKET}", SERVICE_ROLE),
    ]


async def test_anon_cannot_list_fails_when_the_anon_key_lists_files(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    storage.buckets[BUCKET].anon_can_list = True
    result = await check(storage_context(), ANON_LIST)
    assert_fails(
        result,
        f"SUPABASE_KEY, the anon key every browser holds, lists 3 entries of the bucket {BUCKET}",
        "SELECT policy on storage.objects",
    )
    assert result.evidence["anon listed"] == "3"
    # The files' names (user and tenant ids) are not repeated in the result.
    assert "tenant-1" not in result.message + result.hint


async def test_anon_cannot_list_warns_when_the_anon_key_sees_the_bucket(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    storage.anon_reads_buckets = True
    result = await check(storage_context(), ANON_LIST)
    assert result.status is Status.WARN, result.message
    assert "but sees the bucket itself" in result.message
    assert result.evidence["anon sees bucket"] == "yes"


async def test_anon_cannot_list_warns_that_an_empty_bucket_proves_nothing(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    storage.buckets[BUCKET].objects = []
    result = await check(storage_context(), ANON_LIST)
    assert result.status is Status.WARN, result.message
    assert result.message.startswith(f"The bucket {BUCKET} holds no files yet")


async def test_anon_cannot_list_is_skipped_without_the_bucket(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    del storage.buckets[BUCKET]
    result = await check(storage_context(), ANON_LIST)
    assert result.status is Status.SKIP, result.message
    assert result.message == (
        f"Skipped: the bucket {BUCKET} does not exist (storage.bucket-private says so)."
    )


async def test_anon_cannot_list_fails_when_the_anon_key_is_not_the_project_s(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    stranger = storage.sign_key(ANON, secret=OTHER_SECRET)
    result = await check(storage_context(env={"SUPABASE_KEY": stranger}), ANON_LIST)
    assert_fails(result, "Supabase refused SUPABASE_KEY", "answered 401 (Invalid API key)")


@pytest.mark.parametrize(
    ("said", "status", "phrase"),
    [
        ("Access denied", Status.PASS, "Storage refused the listing (403 Unauthorized)"),
        ("signature verification failed", Status.FAIL, "was not signed by this project"),
    ],
)
async def test_anon_cannot_list_tells_a_refused_listing_from_a_refused_key(
    storage_context: StorageContext,
    storage: SupabaseStorage,
    sandbox_ca: CertificateAuthority,
    tmp_path: Path,
    said: str,
    status: Status,
    phrase: str,
) -> None:
    # Storage's own answers, as a server that refuses anon listing outright would give them.
    refusal = {"statusCode": "403", "code": "AccessDenied", "error": "Unauthorized"}
    routes = {
        "/storage/v1/bucket": json_reply([]),
        f"/storage/v1/bucket/{BUCKET}": json_reply(storage.buckets[BUCKET].document()),
        f"/storage/v1/object/list/{BUCKET}": json_reply({**refusal, "message": said}, 400),
    }
    tls = sandbox_ca.issue("127.0.0.1").server_context(tmp_path)
    async with WebServer(routes, tls) as other:
        result = await check(storage_context(env={"SUPABASE_URL": other.url}), ANON_LIST)
    assert result.status is status, (result.message, result.hint)
    assert phrase in f"{result.message} {result.hint}"


# --- storage.create-bucket ------------------------------------------------------------------


async def test_create_bucket_creates_it_private(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    del storage.buckets[BUCKET]
    ctx = storage_context()
    lines, done = await act(ctx)
    assert done.outcome == "ok", done.message
    # The plan, shown first, names the bucket, the project and "private".
    assert lines[0] == (
        f"Create the bucket {BUCKET} in Supabase Storage at {storage.url}: private "
        "(public: false), with SUPABASE_SERVICE_KEY."
    )
    created = storage.buckets[BUCKET]
    assert created.public is False
    [post] = [r for r in storage.requests if r.method == "POST"]
    assert (post.role, post.body) == (SERVICE_ROLE, {"id": BUCKET, "name": BUCKET, "public": False})
    assert done.changes == (
        f"created the private bucket {BUCKET} in Supabase Storage at {storage.url}",
    )
    assert (
        done.message
        == f"The bucket {BUCKET} exists now, private, in Supabase Storage at {storage.url}."
    )
    assert (await check(ctx, PRIVATE)).status is Status.PASS


async def test_create_bucket_refuses_when_the_bucket_appeared_since_the_preview(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    del storage.buckets[BUCKET]
    ctx = storage_context()
    planned = await build_plan(registry.actions[CREATE], ctx)
    assert planned.refusal is None
    storage.add_bucket(BUCKET, public=True)  # someone made it meanwhile, public
    _, done = await act(ctx, plan=planned)
    assert done.outcome == "refused", done.message
    assert f"The bucket {BUCKET} appeared in Supabase Storage since the preview" in done.message
    assert storage.buckets[BUCKET].public is True  # theirs, untouched
    assert not [r for r in storage.requests if r.method == "POST"]


async def test_create_bucket_plan_refuses_when_the_bucket_exists(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    _, done = await act(storage_context())
    assert done.outcome == "refused"
    assert f"The bucket {BUCKET} already exists (private); nothing to do." in done.message
    assert not [r for r in storage.requests if r.method == "POST"]


async def test_create_bucket_plan_refuses_when_storage_cannot_be_reached(
    storage_context: StorageContext, storage: SupabaseStorage
) -> None:
    _, done = await act(storage_context(ca_bundle=None))
    assert done.outcome == "refused"
    assert "Cannot look at Supabase Storage: The TLS certificate" in done.message


# --- storage.virus-scanning -----------------------------------------------------------------


async def test_virus_scanning_passes_when_virustotal_accepts_the_key(
    storage_context: StorageContext, virustotal: VirusTotalApi
) -> None:
    ran = (await run(storage_context(), VIRUS))[VIRUS]
    result = ran.result
    assert result.status is Status.PASS, (result.message, result.hint)
    assert result.message == f"VirusTotal ({virustotal.url}) accepts VIRUSTOTAL_API_KEY."
    assert result.evidence == {"daily requests": "12 of 500"}
    [request] = virustotal.requests
    assert request.apikey == VT_KEY
    assert ran.logs[0] == f"GET {virustotal.url}/api/v3/users/{{VIRUSTOTAL_API_KEY}}"


async def test_virus_scanning_fails_when_virustotal_refuses_the_key(
    storage_context: StorageContext, virustotal: VirusTotalApi
) -> None:
    virustotal.api_key = OTHER_VT_KEY
    result = await check(storage_context(), VIRUS)
    assert_fails(
        result,
        f"VirusTotal refused VIRUSTOTAL_API_KEY: {virustotal.url}/api/v3/users/"
        "{VIRUSTOTAL_API_KEY} answered 401 (WrongCredentialsError: Wrong API key).",
        "virustotal.com/gui/my-apikey",
    )


async def test_virus_scanning_warns_when_the_quota_is_used_up(
    storage_context: StorageContext, virustotal: VirusTotalApi
) -> None:
    virustotal.quota_exceeded = True
    result = await check(storage_context(), VIRUS)
    assert result.status is Status.WARN, result.message
    assert "quota is used up (QuotaExceededError" in result.message


async def test_virus_scanning_is_skipped_when_virustotal_cannot_be_reached(
    storage_context: StorageContext,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = await check(storage_context(virustotal_api_url=url), VIRUS)
    assert result.status is Status.SKIP, result.message
    assert result.message.startswith(
        "VirusTotal's API cannot be reached from this host, so VIRUSTOTAL_API_KEY was not tried"
    )
    assert "refused the connection" in result.message


async def test_virus_scanning_is_skipped_when_virustotal_s_name_does_not_resolve(
    storage_context: StorageContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    ctx = storage_context(virustotal_api_url="https://virustotal.invalid")
    result = await check(ctx, VIRUS)
    assert result.status is Status.SKIP, result.message
    assert "Cannot resolve the host name of https://virustotal.invalid/api/v3/users/" in (
        result.message
    )


async def test_virus_scanning_is_skipped_when_scanning_is_off(
    storage_context: StorageContext, virustotal: VirusTotalApi
) -> None:
    result = await check(storage_context(env={"ENABLE_VIRUS_SCANNING": "false"}), VIRUS)
    assert result.status is Status.SKIP, result.message
    assert virustotal.requests == []


async def test_virus_scanning_never_sends_the_key_in_clear(
    storage_context: StorageContext,
) -> None:
    ctx = storage_context(virustotal_api_url="http://www.virustotal.com")
    with pytest.raises(CheckFailed, match="VIRUSTOTAL_API_KEY would cross the network in clear"):
        await registry.checks[VIRUS].func(ctx)


# --- secrets --------------------------------------------------------------------------------


def _texts(outcome: Outcome | CheckResult) -> list[str]:
    return [outcome.message, outcome.hint, *outcome.evidence.keys(), *outcome.evidence.values()]


async def _direct(ctx: CheckContext, check_id: str) -> list[str]:
    """What a check itself writes (result and log), with no redactor to hide a slip."""
    lines: list[str] = []
    bare = replace(ctx, redactor=Redactor()).bound(lines.append)
    try:
        outcome = await registry.checks[check_id].func(bare)
    except CheckFailed as exc:
        return [str(exc), exc.hint, *lines]
    except Exception as exc:  # CheckSkipped
        return [str(exc), *lines]
    return [*_texts(outcome), *lines]


@pytest.mark.parametrize("broken", ["nothing", "keys", "anon lists", "missing", "virustotal"])
async def test_no_key_or_secret_shows_anywhere(
    storage_context: StorageContext,
    storage: SupabaseStorage,
    virustotal: VirusTotalApi,
    keys: Keys,
    broken: str,
) -> None:
    if broken == "keys":
        storage.jwt_secret = OTHER_SECRET
    elif broken == "anon lists":
        storage.buckets[BUCKET].anon_can_list = True
        storage.anon_reads_buckets = True
    elif broken == "missing":
        del storage.buckets[BUCKET]
    elif broken == "virustotal":
        virustotal.api_key = OTHER_VT_KEY
    ctx = storage_context()
    said: list[str] = []
    for ran in (await run(ctx, *STORAGE_CHECKS)).values():
        said += [*_texts(ran.result), *ran.logs]
    for check_id in STORAGE_CHECKS:
        said += await _direct(ctx, check_id)
    lines, done = await act(ctx)
    said += [*lines, done.message, *done.changes]
    action = registry.actions[CREATE]
    bare_lines: list[str] = []
    bare = replace(ctx, redactor=Redactor())
    planned = await action.plan(bare)
    said += list(planned.lines)
    if planned.refusal is None:
        with contextlib.suppress(Exception):
            said.append(await action.run(bare.bound(bare_lines.append), planned))
    said += bare_lines
    assert len(said) > 30
    forbidden = [JWT_SECRET, VT_KEY, OTHER_VT_KEY]
    for key in (keys.anon, keys.service):
        forbidden += [key, *key.split(".")[1:]]  # the whole key, its claims, its signature
    for text in said:
        for secret in forbidden:
            assert secret not in text, (secret[:12], text)


# --- registration ---------------------------------------------------------------------------


def test_the_storage_checks_are_registered_as_the_checklist_expects() -> None:
    refs = set(all_refs())
    specs = [registry.checks[i] for i in STORAGE_CHECKS]
    for spec in specs:
        assert spec.pane == "integrations"
        assert len(spec.title) <= 23, spec.title
        assert spec.checklist in refs and spec.partial
    assert registry.checks[REACHABLE].needs == ("env.supabase",)
    assert registry.actions[CREATE].dangerous is False
    other_keys = {a.key for a in registry.actions.values() if a.id != CREATE}
    assert registry.actions[CREATE].key not in other_keys


def test_registering_the_storage_checks_imports_no_sdk() -> None:
    code = (
        "import sys, checks.environment, checks.integrations.storage_checks\n"
        "sdks = ('httpx', 'supabase', 'storage3', 'postgrest', 'realtime', 'jwt', 'pydantic')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(sdks)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
