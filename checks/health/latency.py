"""Health pane, the API's response time: ``api.latency``.

Sends TOOLBOX_LATENCY_SAMPLES GETs to ``/api/health`` below TOOLBOX_TARGET_URL, one after the
other over one kept-alive connection, after a warm-up request that is not counted (it pays
for the TCP and TLS handshakes), and compares their p95 with TOOLBOX_API_P95_MS. The
requests run on a thread with its own event loop: timed on the shared loop, the dashboard and
forty other checks would be timed too (a false FAIL on a busy loop). The whole run stays
within the check's time budget: it stops early when the next request would not fit, and
says how many it measured. Any answer that is not 200 fails the check: the time of an error
page says nothing about the API's.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from checks.checklist import MONITORING
from checks.context import CheckContext, discard
from checks.core import Outcome, check, failed, passed, warned
from checks.health import PANE
from checks.net import http_client, read_timed_out, run_tls_context
from checks.web import Answer, Target, fetch, no_target, target

if TYPE_CHECKING:
    import httpx

CHECK_TIMEOUT = 40.0
PATH = "/api/health"
_SETTING = "TOOLBOX_API_P95_MS"
# Kept from the check's budget for building the verdict and the thread's shutdown: the runner
# would otherwise end the check as "timed out" instead of it saying what it measured.
_MARGIN_S = 2.0


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile of ``values`` by the nearest-rank method: the smallest value
    that at least ``pct`` % of the values do not exceed. Always a value that was measured
    (no interpolation), so "p95 = 230 ms" means a request really took 230 ms.

    Raises ValueError for no values or a ``pct`` outside (0, 100].
    """
    if not values:
        raise ValueError("no values")
    if not 0 < pct <= 100:
        raise ValueError("pct must be in (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True)
class Sampling:
    """What the timed requests gave."""

    endpoint: str
    requested: int
    timings_ms: tuple[float, ...]
    """One per counted request, in the order sent (the warm-up is not among them)."""
    warm_up_ms: float
    budget_s: float
    not_ok: tuple[Answer, ...] = ()
    """The answers (warm-up included) that were not 200, in order."""
    answers: int = 0
    """Every request answered, warm-up included."""

    @property
    def stopped_early(self) -> bool:
        return len(self.timings_ms) < self.requested


@check(
    id="api.latency",
    pane=PANE,
    title="API response time p95",
    timeout=CHECK_TIMEOUT,
    checklist=(MONITORING, "API response time"),
)
async def api_latency(ctx: CheckContext) -> Outcome:
    where = target(ctx)
    if where is None:
        return no_target()
    budget = ctx.config.check_timeout or CHECK_TIMEOUT
    sampler = _Sampler(
        ctx.bound(discard),  # the loop is another thread's: lines are logged after
        await run_tls_context(ctx),
        where,
        ctx.config.latency_samples,
        budget,
        time.monotonic() + budget - min(_MARGIN_S, budget / 4),
    )
    ctx.log(f"GET {where.endpoint(PATH)}: 1 warm-up and {ctx.config.latency_samples} timed")
    sampling = await _in_own_thread(sampler)
    ctx.log(
        f"warm-up {_ms(sampling.warm_up_ms)}; timed: "
        + (", ".join(f"{t:.0f}" for t in sampling.timings_ms) or "none")
        + " ms"
    )
    return judge(sampling, ctx.config.api_p95_ms)


def judge(sampling: Sampling, target_ms: float) -> Outcome:
    """The verdict on ``sampling`` against a p95 target of ``target_ms``."""
    timings = sampling.timings_ms or (sampling.warm_up_ms,)
    p50, p95, worst = percentile(timings, 50), percentile(timings, 95), max(timings)
    counted = len(sampling.timings_ms)
    facts = {
        "p50_ms": f"{p50:.1f}",
        "p95_ms": f"{p95:.1f}",
        "max_ms": f"{worst:.1f}",
        "samples": f"{counted} of {sampling.requested}",
        "warm_up_ms": f"{sampling.warm_up_ms:.1f}",
        "target_ms": f"< {target_ms:g}",
    }
    figures = f"with p95 {_ms(p95)} (p50 {_ms(p50)}, max {_ms(worst)}) over {_size(sampling)}"
    if sampling.not_ok:
        first = sampling.not_ok[0]
        return failed(
            f"{len(sampling.not_ok)} of {sampling.answers} answers of {sampling.endpoint} "
            f"were not 200, so their times say nothing about the API's (answered {figures}). "
            f"The first: {first.unexpected_status()}",
            "The API answers with errors: api.health and the app's log say more.",
            **facts,
            first_status=first.status_code,
        )
    if not counted:
        # The warm-up pays for the handshakes: alone, it says nothing of the API's p95.
        return warned(
            f"{sampling.endpoint} answered only the warm-up request, in "
            f"{_ms(sampling.warm_up_ms)} (not counted: it pays for the handshakes): no timed "
            f"request fit in the time allowed (the check's {sampling.budget_s:g} s, "
            "TOOLBOX_CHECK_TIMEOUT), so the p95 is not known.",
            "Raise TOOLBOX_CHECK_TIMEOUT (--timeout) so the timed requests fit. A first "
            "answer that slow says the API or the network is slow too: look at the backend's "
            "load.",
            samples=facts["samples"],
            warm_up_ms=facts["warm_up_ms"],
            target_ms=facts["target_ms"],
        )
    if p95 >= target_ms:
        return failed(
            # The verdict first: at 80 columns, the table shows the message's start only.
            f"Not below the {target_ms:g} ms target ({_SETTING}): {sampling.endpoint} "
            f"answered {figures}.",
            "The API is slow: look at the backend's workers, its database queries and the "
            f"host's load. Raise {_SETTING} only if the target itself is wrong.",
            **facts,
        )
    return passed(
        f"Below the {target_ms:g} ms target: {sampling.endpoint} answered {figures}.",
        **facts,
    )


def _size(sampling: Sampling) -> str:
    """``20 requests``, or how many of them fit in the check's time."""
    counted = len(sampling.timings_ms)
    if not sampling.stopped_early:
        return f"{counted} requests"
    budget = f"the check's {sampling.budget_s:g} s"
    if counted:
        return f"{counted} of {sampling.requested} requests ({budget} ran out before the rest)"
    return f"the warm-up request only (no timed request fit in {budget})"


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 10 else f"{value:,.0f} ms"


class _Sampler:
    """The timed requests, run on a thread of their own by :func:`_in_own_thread`."""

    def __init__(
        self,
        ctx: CheckContext,
        verify: ssl.SSLContext,
        where: Target,
        count: int,
        budget_s: float,
        deadline: float,
    ) -> None:
        self._ctx = ctx
        self._verify = verify
        self._where = where
        self._count = count
        self._budget_s = budget_s
        self._deadline = deadline  # time.monotonic() by which sampling must have ended
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Sampling] | None = None
        self._lock = threading.Lock()

    def run(self) -> Sampling:
        """On the sampling thread: the whole run, in an event loop of its own."""
        return asyncio.run(self._main())

    def cancel(self) -> None:
        """From the check's loop: end the run now (the check itself was cancelled)."""
        self._stop.set()
        with self._lock:
            if self._loop is not None and self._task is not None:
                with contextlib.suppress(RuntimeError):  # that loop has just closed
                    self._loop.call_soon_threadsafe(self._task.cancel)

    async def _main(self) -> Sampling:
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
        if self._stop.is_set():
            raise asyncio.CancelledError
        async with http_client(self._ctx.config, verify=self._verify) as client:
            return await self._sample(client)

    async def _sample(self, client: httpx.AsyncClient) -> Sampling:
        endpoint = self._where.endpoint(PATH)

        async def one() -> Answer:
            left = self._deadline - time.monotonic()
            async with asyncio.timeout(max(left, 0)):
                return await fetch(self._ctx, self._where, PATH, client=client)

        try:
            warm_up = await one()
        except TimeoutError:
            raise read_timed_out(endpoint, f"the check's {self._budget_s:g} s") from None
        not_ok = [warm_up] if warm_up.status_code != 200 else []
        timings: list[float] = []
        slowest = warm_up.elapsed_ms / 1000
        for _ in range(self._count):
            # Stop while there is still time to say so, rather than be cut off mid-request.
            if self._stop.is_set() or self._deadline - time.monotonic() < slowest:
                break
            try:
                answer = await one()
            except TimeoutError:
                break
            timings.append(answer.elapsed_ms)
            slowest = max(slowest, answer.elapsed_ms / 1000)
            if answer.status_code != 200:
                not_ok.append(answer)
        return Sampling(
            endpoint=endpoint,
            requested=self._count,
            timings_ms=tuple(timings),
            warm_up_ms=warm_up.elapsed_ms,
            budget_s=self._budget_s,
            not_ok=tuple(not_ok),
            answers=1 + len(timings),
        )


async def _in_own_thread(sampler: _Sampler) -> Sampling:
    """``sampler.run()`` on a daemon thread of its own, not the shared executor: it may take
    most of the check's budget, and a quitting dashboard must not wait for it."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Sampling] = loop.create_future()

    def settle(result: Sampling | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            assert result is not None
            done.set_result(result)

    def work() -> None:
        try:
            result, error = sampler.run(), None
        except BaseException as exc:  # handed to the check, which raises it
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the check's loop is gone: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name="api.latency", daemon=True).start()
    try:
        return await done
    except asyncio.CancelledError:
        sampler.cancel()
        raise
