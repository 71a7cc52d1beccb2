"""What a big env file costs: the environment pane end to end, the parser, and the redactor.

* ``toolbox-tui check --pane environment`` on the demo's env file and on the same file grown
  to 100,000 lines (one in ten a secret), each run as a whole fresh process in a pty, the
  two alternating; medians and their ratio (the goal is at most 4x).
* Parsing 100,000 lines: our reader against python-dotenv's own, same results.
* Redacting check events with 10 and with 20,000 secrets known, in events per second.
"""

from __future__ import annotations

import io
import random
import string
import tempfile
import time
from pathlib import Path

from dotenv.parser import parse_stream

from benchmarks import targets
from benchmarks.check_wall_time import REPORTED
from benchmarks.figures import Figure, Spread, compared
from benchmarks.pty_process import run_to_exit
from checks.core import CheckResult, Status
from checks.envfile import parse_env_text
from checks.events import Finished, Log
from checks.redact import Redactor
from toolbox_tui.sandbox.demo import demo_env_text, write_demo

PAIRS = 5
BIG_LINES = 100_000
EVENTS = 2_000


def _filler_line(i: int, rng: random.Random) -> str:
    kind = i % 10
    if kind == 0:
        return f"SERVICE_{i}_TOKEN={rng.getrandbits(160):040x}"
    if kind == 1:
        return f"# feature flags, block {i}"
    if kind == 2:
        return ""
    if kind == 3:
        return f'FEATURE_{i}_LABEL="feature number {i}"  # shown in the admin'
    return f"FEATURE_{i}_ENABLED={'true' if i % 3 else 'false'}"


def big_env_text(small: str, lines: int = BIG_LINES) -> str:
    rng = random.Random(3)
    have = small.count("\n")
    return small + "".join(_filler_line(i, rng) + "\n" for i in range(lines - have))


def pane_wall_times(pairs: int = PAIRS) -> Figure:
    with tempfile.TemporaryDirectory() as tmp:
        demo = write_demo(Path(tmp) / "app", seed=1)
        small = demo.env_file.read_text(encoding="utf-8")
        big_file = demo.app_dir / "big.env"
        big_file.write_text(big_env_text(small), encoding="utf-8")
        big_file.chmod(demo.env_file.stat().st_mode)
        overrides = demo.config_overrides()
        small_check = targets.check(overrides, "--pane", "environment")
        big_check = targets.check({**overrides, "env_file": big_file}, "--pane", "environment")
        big_times: list[float] = []
        small_times: list[float] = []
        for _ in range(pairs):
            big_times.append(run_to_exit(big_check, REPORTED))
            small_times.append(run_to_exit(small_check, REPORTED))
        size_mib = big_file.stat().st_size / 2**20
    return compared(
        f"check --pane environment: {BIG_LINES:,}-line env vs the demo's",
        4.0,
        (f"{BIG_LINES:,} lines ({size_mib:.1f} MiB)", Spread.of(big_times)),
        (f"{small.count(chr(10))} lines", Spread.of(small_times)),
    )


def parse_times() -> None:
    text = big_env_text(demo_env_text(seed=1))
    start = time.perf_counter()
    ours = parse_env_text(text)
    mid = time.perf_counter()
    theirs = {
        b.key: b.value or ""
        for b in parse_stream(io.StringIO(text))
        if b.key is not None and not b.error
    }
    end = time.perf_counter()
    same = "same values" if ours.values == theirs else "DIFFERENT VALUES"
    print(f"parsing {BIG_LINES:,} lines:")
    print(
        f"  parse_env_text {(mid - start) * 1000:.0f} ms | python-dotenv "
        f"{(end - mid) * 1000:.0f} ms | x{(end - mid) / (mid - start):.1f} faster, {same}"
    )


def _events(rng: random.Random, secrets: list[str]) -> list[Finished | Log]:
    events: list[Finished | Log] = []
    for i in range(EVENTS):
        if i % 2:
            events.append(Log(f"env.check-{i % 30}", f"Read DATABASE_URL; host db.internal, {i}"))
            continue
        result = CheckResult(
            id=f"env.check-{i % 30}",
            pane="environment",
            title="DATABASE_URL points at PostgreSQL with a password",
            status=Status.FAIL,
            message="DATABASE_URL has no password; the app would connect without one.",
            hint="Use postgresql://<user>:<password>@<host>:5432/<database>.",
            # Now and then a secret, as an error message might quote it.
            evidence={"host": "db.internal", "detail": rng.choice(secrets) if i % 50 == 0 else ""},
        )
        events.append(Finished(result))
    return events


def redaction_rates() -> None:
    rng = random.Random(5)
    alphabet = string.ascii_letters + string.digits + "-_"
    secrets = ["".join(rng.choices(alphabet, k=rng.randint(16, 64))) for _ in range(20_000)]
    print(f"redacting {EVENTS:,} events (Finished and Log, as the runner emits them):")
    for count in (10, 20_000):
        start = time.perf_counter()
        redactor = Redactor(secrets[:count])
        built = time.perf_counter() - start
        events = _events(rng, secrets[:count])
        start = time.perf_counter()
        for event in events:
            redactor.value(event)
        elapsed = time.perf_counter() - start
        print(
            f"  {count:>6,} secrets: {EVENTS / elapsed:,.0f} events/s "
            f"(learning them took {built * 1000:.0f} ms)"
        )


def main() -> list[Figure]:
    figure = pane_wall_times()
    parse_times()
    redaction_rates()
    return [figure]


if __name__ == "__main__":
    main()
