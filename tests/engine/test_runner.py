"""The runner: concurrency, needs, timeouts, crashes, cancellation and redaction."""

from __future__ import annotations

import asyncio

from checks.core import Registry, Status, failed, passed
from checks.events import Finished, Log, Started
from checks.runner import run_checks
from tests.conftest import MakeContext


async def collect(registry: Registry, ctx, **select) -> list:  # type: ignore[no-untyped-def]
    return [event async for event in run_checks(registry.select(**select), ctx)]


def results(events: list) -> dict:  # type: ignore[type-arg]
    return {e.result.id: e.result for e in events if isinstance(e, Finished)}


async def test_checks_run_concurrently(make_context: MakeContext) -> None:
    registry = Registry()
    barrier = asyncio.Barrier(3)

    for n in range(3):
        # Each check waits for the other two: this only finishes if they run at once.
        @registry.check(id=f"t.concurrent-{n}", pane="health", title="waits for the others")
        async def waits(ctx):  # type: ignore[no-untyped-def]
            await barrier.wait()
            return passed("all three were running together")

    found = results(await collect(registry, make_context()))
    assert {r.status for r in found.values()} == {Status.PASS}
    assert len(found) == 3


async def test_failed_need_skips_dependent_and_names_it(make_context: MakeContext) -> None:
    registry = Registry()

    @registry.check(id="t.base", pane="health", title="base")
    async def base(ctx):  # type: ignore[no-untyped-def]
        return failed("base is down")

    @registry.check(id="t.dependent", pane="health", title="dependent", needs=["t.base"])
    async def dependent(ctx):  # type: ignore[no-untyped-def]
        raise AssertionError("must not run")

    found = results(await collect(registry, make_context(), ids=["t.dependent"]))
    assert found["t.base"].status is Status.FAIL  # pulled in by select()
    assert found["t.dependent"].status is Status.SKIP
    assert "t.base (fail)" in found["t.dependent"].message


async def test_passing_need_lets_dependent_run(make_context: MakeContext) -> None:
    registry = Registry()
    order: list[str] = []

    @registry.check(id="t.base", pane="health", title="base")
    async def base(ctx):  # type: ignore[no-untyped-def]
        order.append("base")
        return passed("up")

    @registry.check(id="t.dependent", pane="health", title="dependent", needs=["t.base"])
    async def dependent(ctx):  # type: ignore[no-untyped-def]
        order.append("dependent")
        return passed("ran after base")

    found = results(await collect(registry, make_context()))
    assert found["t.dependent"].status is Status.PASS
    assert order == ["base", "dependent"]


async def test_timeout_becomes_error_saying_so(make_context: MakeContext) -> None:
    registry = Registry()
    hung = asyncio.Event()

    @registry.check(id="t.hung", pane="health", title="hung", timeout=0.05)
    async def never(ctx):  # type: ignore[no-untyped-def]
        await hung.wait()
        return passed("unreachable")

    found = results(await collect(registry, make_context()))
    assert found["t.hung"].status is Status.ERROR
    assert "Timed out after 0.05 s" in found["t.hung"].message


async def test_config_timeout_overrides_check_timeout(make_context: MakeContext) -> None:
    registry = Registry()

    @registry.check(id="t.slowish", pane="health", title="slowish", timeout=60)
    async def slowish(ctx):  # type: ignore[no-untyped-def]
        await asyncio.Event().wait()
        return passed("unreachable")

    found = results(await collect(registry, make_context(check_timeout=0.05)))
    assert "Timed out after 0.05 s" in found["t.slowish"].message


async def test_crash_becomes_error_with_traceback_in_log(make_context: MakeContext) -> None:
    registry = Registry()

    @registry.check(id="t.crash", pane="health", title="crash")
    async def crash(ctx):  # type: ignore[no-untyped-def]
        raise ValueError("unexpected answer from the server")

    events = await collect(registry, make_context())
    result = results(events)["t.crash"]
    assert result.status is Status.ERROR
    assert "ValueError: unexpected answer from the server" in result.message
    log = [e.line for e in events if isinstance(e, Log)]
    assert any("Traceback" in line for line in log)


async def test_wrong_return_type_is_an_error(make_context: MakeContext) -> None:
    registry = Registry()

    @registry.check(id="t.sloppy", pane="health", title="sloppy")
    async def sloppy(ctx):  # type: ignore[no-untyped-def]
        return "ok"

    result = results(await collect(registry, make_context()))["t.sloppy"]
    assert result.status is Status.ERROR
    assert "not an Outcome" in result.message


async def test_events_are_redacted_at_the_boundary(make_context: MakeContext) -> None:
    secret = "sk_live_" + "9" * 24 + "abcd"
    registry = Registry()

    @registry.check(id="t.leaky", pane="health", title="leaky")
    async def leaky(ctx):  # type: ignore[no-untyped-def]
        ctx.log(f"using {secret}")
        return failed(f"key {secret} rejected", hint=secret, key=secret)

    ctx = make_context(f"STRIPE_SECRET_KEY={secret}\n")
    events = await collect(registry, ctx)
    assert secret not in repr(events)
    result = results(events)["t.leaky"]
    assert result.message == "key sk_live_••••abcd rejected"


async def test_started_comes_before_finished(make_context: MakeContext) -> None:
    registry = Registry()

    @registry.check(id="t.one", pane="health", title="one")
    async def one(ctx):  # type: ignore[no-untyped-def]
        return passed("fine")

    events = await collect(registry, make_context())
    assert isinstance(events[0], Started)
    assert isinstance(events[-1], Finished)


async def test_closing_the_stream_cancels_running_checks(make_context: MakeContext) -> None:
    registry = Registry()
    cancelled = asyncio.Event()

    @registry.check(id="t.fast", pane="health", title="fast")
    async def fast(ctx):  # type: ignore[no-untyped-def]
        return passed("done")

    @registry.check(id="t.forever", pane="health", title="forever", timeout=3600)
    async def forever(ctx):  # type: ignore[no-untyped-def]
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return passed("unreachable")

    stream = run_checks(registry.select(), make_context())
    async for event in stream:
        if isinstance(event, Finished):
            break
    await stream.aclose()
    assert cancelled.is_set()


async def test_cancellation_escaping_a_check_is_an_error_not_a_hang(
    make_context: MakeContext,
) -> None:
    registry = Registry()

    @registry.check(id="t.self-cancel", pane="health", title="a library gives up")
    async def gives_up(ctx):  # type: ignore[no-untyped-def]
        raise asyncio.CancelledError

    result = results(await collect(registry, make_context()))["t.self-cancel"]
    assert result.status is Status.ERROR and "cancelled from inside" in result.message


async def test_multi_line_secret_in_a_traceback_is_masked(make_context: MakeContext) -> None:
    pem = (
        "-----BEGIN KEY-----\n"
        "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
        "-----END KEY-----"
    )
    registry = Registry()

    @registry.check(id="t.pem", pane="health", title="pem")
    async def pem_check(ctx):  # type: ignore[no-untyped-def]
        raise ValueError(f"bad key:\n{pem}")

    ctx = make_context()
    ctx.redactor.add(pem)
    events = await collect(registry, ctx)
    assert "MIIBOgIBAAJBAKj34Gkx" not in repr(events)


async def test_check_failed_raised_deep_inside_is_a_fail_with_its_hint(
    make_context: MakeContext,
) -> None:
    from checks.core import CheckFailed

    registry = Registry()

    @registry.check(id="t.refused", pane="health", title="refused")
    async def refused(ctx):  # type: ignore[no-untyped-def]
        raise CheckFailed("the server refused", "start it")

    result = results(await collect(registry, make_context()))["t.refused"]
    assert (result.status, result.message, result.hint) == (
        Status.FAIL,
        "the server refused",
        "start it",
    )


async def test_each_check_is_timed_by_its_own_work_not_its_neighbours(
    make_context: MakeContext,
) -> None:
    registry = Registry()

    @registry.check(id="a.busy", pane="health", title="Busy")
    async def busy(ctx):  # type: ignore[no-untyped-def]
        # Holds the event loop, as forty checks and the dashboard's drawing together do.
        sum(range(5_000_000))
        return passed("worked")

    @registry.check(id="a.quick", pane="health", title="Quick")
    async def quick(ctx):  # type: ignore[no-untyped-def]
        return passed("at once")

    events = await collect(registry, make_context())
    took = {e.result.id: e.result.duration_ms for e in events if isinstance(e, Finished)}
    # The quick one waited for the busy one to let go of the loop; that wait is not its time.
    assert took["a.quick"] < took["a.busy"] / 10, took


async def test_shared_work_runs_once_and_survives_a_check_that_gives_up(
    make_context: MakeContext,
) -> None:
    registry = Registry()
    started = 0

    async def expensive() -> str:
        nonlocal started
        started += 1
        release = asyncio.Event()
        # Finishes well after the impatient check's timeout: timers fire in deadline order.
        asyncio.get_running_loop().call_later(0.5, release.set)
        await release.wait()
        return "scripts"

    @registry.check(id="a.impatient", pane="health", title="Impatient", timeout=0.05)
    async def impatient(ctx):  # type: ignore[no-untyped-def]
        return passed(await ctx.shared("work", expensive))

    @registry.check(id="a.patient", pane="health", title="Patient", timeout=30)
    async def patient(ctx):  # type: ignore[no-untyped-def]
        return passed(await ctx.shared("work", expensive))

    events = await collect(registry, make_context())
    results = {e.result.id: e.result for e in events if isinstance(e, Finished)}
    assert results["a.impatient"].status is Status.ERROR  # timed out...
    assert results["a.patient"].message == "scripts"  # ...without cancelling the work
    assert started == 1


# -- checks that write to the app -------------------------------------------------------------


def writing_registry(ran: list[str]) -> Registry:
    """``t.writes`` writes to the app and needs ``t.base``; ``t.after`` needs ``t.writes``;
    ``t.looks`` only looks."""
    registry = Registry()

    @registry.check(id="t.base", pane="health", title="base")
    async def base(ctx):  # type: ignore[no-untyped-def]
        ran.append("base")
        return passed("up")

    @registry.check(id="t.writes", pane="health", title="writes", needs=["t.base"], writes=True)
    async def writes(ctx):  # type: ignore[no-untyped-def]
        ran.append("writes")
        return passed("created and deleted a test record")

    @registry.check(id="t.after", pane="health", title="after", needs=["t.writes"])
    async def after(ctx):  # type: ignore[no-untyped-def]
        ran.append("after")
        return passed("ran")

    @registry.check(id="t.looks", pane="health", title="looks")
    async def looks(ctx):  # type: ignore[no-untyped-def]
        ran.append("looks")
        return passed("looked")

    return registry


async def test_read_only_skips_a_check_that_writes_saying_why(make_context: MakeContext) -> None:
    ran: list[str] = []
    events = await collect(writing_registry(ran), make_context(read_only=True))
    found = results(events)
    skipped = found["t.writes"]
    assert skipped.status is Status.SKIP
    assert skipped.message.startswith("Skipped: --read-only: ")
    assert "this check writes to the app" in skipped.message
    assert "run it without --read-only" in skipped.message
    assert "TOOLBOX_READ_ONLY" in skipped.message + skipped.hint
    assert not any(isinstance(e, Started) and e.check_id == "t.writes" for e in events)
    # What needs it is skipped in turn; what only looks runs as ever.
    assert found["t.after"].status is Status.SKIP and "t.writes (skip)" in found["t.after"].message
    assert found["t.looks"].status is Status.PASS and found["t.base"].status is Status.PASS
    assert sorted(ran) == ["base", "looks"]


async def test_without_read_only_a_check_that_writes_runs(make_context: MakeContext) -> None:
    ran: list[str] = []
    found = results(await collect(writing_registry(ran), make_context()))
    assert {r.status for r in found.values()} == {Status.PASS}
    assert ran.index("base") < ran.index("writes") < ran.index("after")


async def test_read_only_does_not_wait_for_the_needs_of_a_check_it_skips(
    make_context: MakeContext,
) -> None:
    registry = Registry()
    never = asyncio.Event()

    @registry.check(id="t.slow", pane="health", title="slow", timeout=3600)
    async def slow(ctx):  # type: ignore[no-untyped-def]
        await never.wait()
        return passed("never")

    @registry.check(id="t.writes", pane="health", title="writes", needs=["t.slow"], writes=True)
    async def writes(ctx):  # type: ignore[no-untyped-def]
        raise AssertionError("must not run")

    stream = run_checks(registry.select(), make_context(read_only=True))
    try:
        async for event in stream:
            if isinstance(event, Finished):  # the first to finish: t.slow never does
                assert event.result.id == "t.writes" and event.result.status is Status.SKIP
                break
    finally:
        await stream.aclose()


async def test_every_builtin_check_that_writes_is_skipped_read_only(
    make_context: MakeContext,
) -> None:
    from checks import catalog

    writing = [spec for spec in catalog.load().in_pane_order() if spec.writes]
    assert {spec.id for spec in writing} >= {
        "smoke.upload-init",
        "smoke.roblox-environment",
        "sec.token-revocation",
        "sec.webhook-signature",
        "sec.rate-limit",
    }
    found = results([e async for e in run_checks(writing, make_context(read_only=True))])
    assert all(found[spec.id].status is Status.SKIP for spec in writing)
    assert all("--read-only" in found[spec.id].message for spec in writing)
