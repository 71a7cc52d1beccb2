"""File storage, live: Supabase Storage answers, the upload bucket exists and is private, the
anon key cannot list its files, and VirusTotal accepts the scanning key.

Provides checks ``storage.reachable``, ``storage.bucket-private``, ``storage.anon-cannot-list``
and ``storage.virus-scanning``, and action ``storage.create-bucket`` (create the missing upload
bucket, private). Storage is called through the ``supabase`` SDK
(:mod:`checks.integrations.storage_client`); VirusTotal through :func:`checks.net.http_client`.

A public bucket is reported, never made private here: the moment it turns private, every
public URL the app has handed out (``/object/public/...``, in pages, emails and caches) stops
working, so the app must first serve signed URLs; that is a person's decision.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from http import HTTPStatus
from urllib.parse import quote

from checks.checklist import DEPLOY, MONITORING, SECURITY
from checks.context import CheckContext
from checks.core import (
    ActionFailed,
    ActionRefused,
    CheckFailed,
    CheckSkipped,
    Outcome,
    Plan,
    Status,
    action,
    check,
    failed,
    nothing_to_do,
    passed,
    plan,
    refused_plan,
    warned,
)
from checks.findings import Findings, parse_bool, require
from checks.integrations import PANE
from checks.integrations.storage_client import (
    ANON_KEY,
    SERVICE_KEY,
    Storage,
    StorageRefused,
    open_storage,
)
from checks.net import explain, open_http_client, service_base_url

REACHABLE = "storage.reachable"
BUCKET_PRIVATE = "storage.bucket-private"
CREATE_BUCKET = "storage.create-bucket"
DEFAULT_BUCKET = "user-uploads"
BUCKET_SETTING = "TOOLBOX_STORAGE_BUCKET"
CHECK_TIMEOUT = 20.0  # above connect (5 s) + read (10 s): the client's own sentence comes first
# Entries the anon key is asked to list: one is enough to know it can.
ANON_LIST_LIMIT = 100
# What of the checklist's items these checks cannot see; one sentence per item, so the
# coverage map names each gap once.
CONFIGURE_GAP = (
    "the RLS policies that isolate tenants from each other (only the anon key is tried) and the CDN"
)
MONITORING_GAP = (
    "the upload success rate (>98%), virus scan hit rate, storage usage (alert at 80%) and "
    "CDN hit rate (>90%)"
)

VT_KEY = "VIRUSTOTAL_API_KEY"
VT_URL_SETTING = "TOOLBOX_VIRUSTOTAL_API_URL"
VT_DEFAULT_URL = "https://www.virustotal.com"
VT_KEYS_HINT = (
    "Copy the key from VirusTotal > your profile > API key (virustotal.com/gui/my-apikey)."
)
EXCERPT_CHARS = 200


def bucket_name(ctx: CheckContext) -> str:
    """The upload bucket's name (TOOLBOX_STORAGE_BUCKET, "user-uploads" by default)."""
    name = ctx.config.storage_bucket.strip()
    if not name or "/" in name:
        raise CheckFailed(
            f"{BUCKET_SETTING} must name one bucket.", f"Unset it to use {DEFAULT_BUCKET}."
        )
    return name


# -- storage.reachable --------------------------------------------------------------------


@check(
    id=REACHABLE,
    pane=PANE,
    title="Supabase storage up",
    timeout=CHECK_TIMEOUT,
    needs=("env.supabase",),
    checklist=(MONITORING, "File storage"),
    partial=MONITORING_GAP,
)
async def reachable(ctx: CheckContext) -> Outcome:
    async with open_storage(ctx) as storage:
        buckets = await storage.list_buckets(SERVICE_KEY)
    return passed(
        f"Supabase Storage at {storage.where.storage} answers {SERVICE_KEY}: "
        f"{len(buckets)} bucket{'s' if len(buckets) != 1 else ''}.",
        buckets=len(buckets),
    )


# -- storage.bucket-private ---------------------------------------------------------------


@check(
    id=BUCKET_PRIVATE,
    pane=PANE,
    title="Upload bucket private",
    timeout=CHECK_TIMEOUT,
    needs=(REACHABLE,),
    checklist=(DEPLOY, "Configure file storage"),
    partial=CONFIGURE_GAP,
)
async def bucket_private(ctx: CheckContext) -> Outcome:
    name = bucket_name(ctx)
    async with open_storage(ctx) as storage:
        bucket = await storage.find_bucket(name)
    where = storage.where.url
    if bucket is None:
        return failed(
            f"The bucket {name} is missing from Supabase Storage ({where}): the app's uploads "
            "to it fail.",
            "Create it, private, with 'Create the upload bucket' (or in Supabase > Storage > "
            "New bucket, 'Public bucket' off).",
            (CREATE_BUCKET,),
            bucket=name,
        )
    limits = {
        "file_size_limit": bucket.file_size_limit or "none",
        "allowed_mime_types": ", ".join(bucket.allowed_mime_types or ()) or "any",
    }
    if bucket.public:
        return failed(
            f"The bucket {name} is public: anyone with a file's URL downloads it without "
            "signing in, whatever the row-level security says.",
            f"Make it private in Supabase > Storage > {name} > Edit bucket ('Public bucket' "
            "off) once the app serves signed URLs. Not done automatically: every public URL "
            "already handed out (pages, emails, caches) stops working at that moment.",
            (),
            bucket=name,
            **limits,
        )
    return passed(f"The bucket {name} exists and is private.", bucket=name, **limits)


# -- storage.anon-cannot-list -------------------------------------------------------------


@check(
    id="storage.anon-cannot-list",
    pane=PANE,
    title="Anon cannot list files",
    timeout=CHECK_TIMEOUT,
    needs=(REACHABLE,),
    checklist=(DEPLOY, "Configure file storage"),
    partial=CONFIGURE_GAP,
)
async def anon_cannot_list(ctx: CheckContext) -> Outcome:
    name = bucket_name(ctx)
    async with open_storage(ctx) as storage:
        if await storage.find_bucket(name) is None:
            raise CheckSkipped(f"the bucket {name} does not exist ({BUCKET_PRIVATE} says so)")
        refusal = ""
        try:
            listed = await storage.list_objects(name, ANON_KEY, ANON_LIST_LIMIT)
        except StorageRefused as exc:
            if not exc.client_error:
                raise  # the key itself was refused, or Storage is failing
            listed, refusal = [], f"Storage refused the listing ({exc.status} {exc.error})"
        if listed:
            count = f"{len(listed)}{'+' if len(listed) >= ANON_LIST_LIMIT else ''}"
            entries = "entry" if len(listed) == 1 else "entries"
            return failed(
                f"{ANON_KEY}, the anon key every browser holds, lists {count} {entries} of the "
                f"bucket {name}: anyone can enumerate its files.",
                "A SELECT policy on storage.objects lets the anon role read this bucket. In "
                "Supabase > Storage > Policies, allow SELECT to authenticated users only, "
                "within their own folder (e.g. (storage.foldername(name))[1] = "
                f"auth.uid()::text). The app's server uses {SERVICE_KEY} and is not affected.",
                (),
                bucket=name,
                anon_listed=count,
            )
        sees_bucket = await _anon_sees_bucket(storage, name)
        # What there is to hide; a refusal needs no such proof.
        stored = [] if refusal else await storage.list_objects(name, SERVICE_KEY, 1)
    facts = {"bucket": name, "anon_listed": 0, "anon_sees_bucket": "yes" if sees_bucket else "no"}
    if sees_bucket:
        return warned(
            f"{ANON_KEY} lists none of {name}'s files, but sees the bucket itself: a SELECT "
            "policy on storage.buckets lets the anon role read bucket settings.",
            "Unless the frontend needs them, drop that policy in Supabase > Storage > Policies "
            "(storage.buckets).",
            (),
            **facts,
        )
    if not stored and not refusal:
        return warned(
            f"The bucket {name} holds no files yet: that {ANON_KEY} lists none proves nothing "
            "until it does (row-level security hides files, it does not refuse).",
            "Run it again after the first upload, or read the policies on storage.objects in "
            "Supabase > Storage > Policies.",
            (),
            **facts,
        )
    why = refusal or "row-level security hides them from the anon role"
    return passed(
        f"{ANON_KEY} lists none of the files in {name}, nor sees the bucket: {why}.", **facts
    )


async def _anon_sees_bucket(storage: Storage, name: str) -> bool:
    try:
        buckets = await storage.list_buckets(ANON_KEY)
    except StorageRefused as exc:
        if not exc.client_error:
            raise
        return False
    return any(bucket.name == name for bucket in buckets)


# -- storage.create-bucket ----------------------------------------------------------------


async def _plan_create(ctx: CheckContext) -> Plan:
    try:
        name = bucket_name(ctx)
        async with open_storage(ctx) as storage:
            existing = await storage.find_bucket(name)
        url = storage.where.url
    except CheckFailed as exc:
        return refused_plan(f"Cannot look at Supabase Storage: {exc}")
    head = (
        f"Create the bucket {name} in Supabase Storage at {url}: private (public: false), "
        f"with {SERVICE_KEY}."
    )
    if existing is not None:
        state = "public" if existing.public else "private"
        return nothing_to_do(f"The bucket {name} already exists ({state}); nothing to do.", head)
    return plan(
        head,
        "Its files are then read only through signed URLs or the service key. No size limit "
        "or MIME type filter is set (Supabase > Storage > Edit bucket).",
        "Refused if a bucket of that name appears before it runs.",
        bucket=name,
        url=url,
    )


@action(
    id=CREATE_BUCKET,
    title="Create the upload bucket",
    pane=PANE,
    key="k",
    plan=_plan_create,
    description="Create the app's upload bucket (user-uploads) in Supabase Storage, private.",
)
async def create_bucket(ctx: CheckContext, planned: Plan) -> str:
    name, url = planned.payload["bucket"], planned.payload["url"]
    try:
        async with open_storage(ctx) as storage:
            if storage.where.url != url:
                raise ActionRefused(
                    f"SUPABASE_URL changed since the preview (now {storage.where.url}); nothing "
                    "was created. Preview again."
                )
            if await storage.find_bucket(name) is not None:
                raise ActionRefused(
                    f"The bucket {name} appeared in Supabase Storage since the preview; nothing "
                    "was created. Preview again."
                )
            try:
                await storage.create_bucket(name, public=False)
            except StorageRefused as exc:
                if exc.status == "409":
                    raise ActionRefused(
                        f"The bucket {name} was created by someone else meanwhile; nothing was "
                        "created. Preview again."
                    ) from exc
                raise
            ctx.changed(f"created the private bucket {name} in Supabase Storage at {url}")
            made = await storage.find_bucket(name)
    except CheckFailed as exc:
        raise ActionFailed(str(exc)) from exc
    if made is None or made.public:
        state = "cannot be found" if made is None else "is public"
        raise ActionFailed(f"Supabase Storage accepted the bucket {name}, but it now {state}.")
    return f"The bucket {name} exists now, private, in Supabase Storage at {url}."


# -- storage.virus-scanning ---------------------------------------------------------------


@check(
    id="storage.virus-scanning",
    pane=PANE,
    title="VirusTotal key accepted",
    timeout=CHECK_TIMEOUT,
    needs=("env.virus-scanning",),
    checklist=(SECURITY, "Upload virus scanning enabled"),
    partial="whether the app scans each upload before it is stored",
)
async def virus_scanning(ctx: CheckContext) -> Outcome:
    if parse_bool(ctx.env.get("ENABLE_VIRUS_SCANNING")) is not True:
        return Outcome(
            Status.SKIP,
            "ENABLE_VIRUS_SCANNING is not true: no VirusTotal key to try.",
            hint="env.virus-scanning says what that means for uploads.",
        )
    findings = Findings()
    key = require(ctx.env, VT_KEY, findings)
    if key is None:
        raise CheckFailed(" ".join(findings.failures) + ".", VT_KEYS_HINT)
    key = key.strip()
    base = _virustotal_base(ctx)
    # The key is part of this endpoint's path: what anyone sees names the variable instead.
    shown = f"{base}/api/v3/users/{{{VT_KEY}}}"
    client = await open_http_client(ctx)  # imports httpx off the loop: only then the import below
    import httpx

    ctx.log(f"GET {shown}")
    try:
        async with client:
            answer = await client.get(
                f"{base}/api/v3/users/{quote(key, safe='')}",
                headers={"x-apikey": key, "Accept": "application/json"},
            )
    except httpx.HTTPError as exc:
        reason = explain(exc, shown, VT_URL_SETTING)
        if _unreachable(exc):
            return Outcome(
                Status.SKIP,
                f"VirusTotal's API cannot be reached from this host, so {VT_KEY} was not "
                f"tried: {reason}",
                hint="If the app runs on this host, its scans cannot reach VirusTotal either: "
                "allow HTTPS to www.virustotal.com. Otherwise run this check where the app runs.",
            )
        raise reason from exc
    status = answer.status_code
    ctx.log(f"{status} {_phrase(status)}")
    if status == 200:
        return _vt_accepted(ctx, base, shown, answer.content)
    code, said = _vt_error(ctx, answer.content)
    if status == 401:
        return failed(
            f"VirusTotal refused {VT_KEY}: {shown} answered 401 ({code}: {said}).",
            f"{VT_KEYS_HINT} UserNotActiveError means the account's email was never confirmed.",
        )
    if status == 429:
        return warned(
            f"VirusTotal knows {VT_KEY}, but its quota is used up ({code}: {said}): until it "
            "resets, uploads go unscanned.",
            "The public API allows 4 requests a minute and 500 a day (reset at 00:00 UTC); a "
            "premium key has more.",
        )
    return failed(
        f"{shown} answered {status} {_phrase(status)} ({code}: {said}).",
        f"VirusTotal may be having trouble; or is {VT_URL_SETTING} not VirusTotal's API "
        f"({VT_DEFAULT_URL})?",
    )


def _virustotal_base(ctx: CheckContext) -> str:
    return service_base_url(
        ctx.config.virustotal_api_url,
        VT_URL_SETTING,
        carries=VT_KEY,
        hint=f"Unset it to use VirusTotal's API, {VT_DEFAULT_URL}.",
    )


def _unreachable(exc: BaseException) -> bool:
    """A failure to reach the host at all (DNS, refused, no route, no answer to connect),
    not a TLS failure: the TLS ones are for a person to fix here."""
    import httpx

    if not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return False
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return False
        current = current.__cause__ or current.__context__
    return True


def _vt_accepted(ctx: CheckContext, base: str, shown: str, body: bytes) -> Outcome:
    try:
        document = json.loads(body)
        attributes = document["data"].get("attributes") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CheckFailed(
            f"{shown} answered 200, but not with a VirusTotal user: "
            f"{_excerpt(ctx, body.decode('utf-8', 'replace'))}",
            f"Is {VT_URL_SETTING} VirusTotal's API ({VT_DEFAULT_URL})?",
        ) from None
    daily = (attributes.get("quotas") or {}).get("api_requests_daily") or {}
    evidence: dict[str, object] = {}
    if isinstance(daily, Mapping) and "allowed" in daily:
        evidence["daily_requests"] = f"{daily.get('used', 0)} of {daily['allowed']}"
    return passed(f"VirusTotal ({base}) accepts {VT_KEY}.", **evidence)


def _vt_error(ctx: CheckContext, body: bytes) -> tuple[str, str]:
    """VirusTotal's ``{"error": {"code": ..., "message": ...}}``, or a cut of the body."""
    try:
        error = json.loads(body)["error"]
        return str(error.get("code") or "error"), _excerpt(ctx, str(error.get("message") or ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return "no error code", _excerpt(ctx, body.decode("utf-8", "replace")) or "an empty body"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _excerpt(ctx: CheckContext, text: str) -> str:
    flat = " ".join(ctx.redactor.text(text).split())
    return flat[:EXCERPT_CHARS] + ("…" if len(flat) > EXCERPT_CHARS else "")
