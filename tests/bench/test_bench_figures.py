"""What ``make bench`` prints: ratios to anchors, spreads, goals that are reported and never
enforced, and a broken benchmark that says so without hiding the others."""

from __future__ import annotations

import pytest

import benchmarks.__main__ as bench
from benchmarks import bytecode
from benchmarks.figures import Figure, Spread, compared, ratios


def test_spread_reads_in_milliseconds_with_a_nearest_rank_p95() -> None:
    spread = Spread.of([n / 1000 for n in range(1, 21)])  # 1..20 ms
    assert spread.median == pytest.approx(10.5)
    assert spread.p95 == pytest.approx(19)
    assert (spread.low, spread.high) == (pytest.approx(1), pytest.approx(20))
    assert spread.text() == "10 ms [1-20]"
    assert spread.tail_text() == "p95 19 ms (p50 10, max 20)"
    assert Spread.of([0.0042]).p95 == pytest.approx(4.2)


def test_compared_is_the_ratio_of_medians_with_the_pairs_for_spread(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ours, theirs = Spread((300.0, 200.0, 220.0)), Spread((100.0, 100.0, 200.0))
    assert ratios(ours, theirs) == (3.0, 2.0, 1.1)
    figure = compared("start", 1.5, ("dashboard", ours), ("bare", theirs))
    assert figure.ratio == pytest.approx(2.2)
    assert not figure.meets_goal
    printed = capsys.readouterr().out
    assert "x2.20" in printed
    assert "goal <= 1.5x: NOT met" in printed
    assert "pair ratios 1.10-3.00; n=3" in printed


def test_a_goal_with_a_limit_needs_both() -> None:
    def figure(ratio: float, p95: float) -> Figure:
        return Figure("down", ratio, 1.5, "", limit_ms=50, figure_ms=p95)

    assert figure(1.2, 40).meets_goal
    assert not figure(1.2, 60).meets_goal
    assert not figure(1.6, 40).meets_goal
    assert figure(1.2, 40).goal_text() == "goal <= 1.5x and < 50 ms: met"
    assert Figure("tabs", 0.9, 1.0, "").goal_text() == "goal <= 1.0x: met"
    assert Figure("run", 1.2, 1.15, "").goal_text() == "goal <= 1.15x: NOT met"


def test_a_missed_goal_fails_nothing_but_a_broken_benchmark_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missed() -> list[Figure]:
        return [Figure("slow thing", 9.0, 1.0, "")]

    def broken() -> list[Figure]:
        raise RuntimeError("no frame")

    monkeypatch.setattr(bench, "BENCHMARKS", {"missed": missed, "broken": broken})
    assert bench.main(["missed"]) == 0
    assert bench.main([]) == 1
    out = capsys.readouterr().out
    assert "broken: not measured: RuntimeError: no frame" in out
    assert "slow thing" in out.rsplit("== summary", 1)[1]
    assert "not measured: broken" in out


def test_an_unknown_benchmark_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        bench.main(["first-frame"])
    assert exited.value.code == 2
    assert "no benchmark first-frame; there are first_frame" in capsys.readouterr().err


def test_our_modules_are_compiled_before_anything_is_timed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = bytecode.ROOT / "checks" / "runner.py"
    cached = bytecode.compiled(source)
    cached.unlink(missing_ok=True)
    monkeypatch.setattr(bench, "BENCHMARKS", {"nothing": list})
    assert bench.main(["nothing"]) == 0
    assert cached.is_file()
    assert cached.stat().st_mtime >= source.stat().st_mtime
