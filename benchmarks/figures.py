"""How a benchmark states a result: a figure, its anchor, their ratio, the goal and the spread.

Absolute times are noisy on a small shared machine; the ratio to an anchor measured the same
way, interleaved with it, is the figure that counts. Goals are printed beside it, never
enforced: ``make bench`` measures, it does not judge.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 62  # of the measure's name in a printed row


@dataclass(frozen=True)
class Spread:
    """Several samples of one quantity, in milliseconds."""

    samples: tuple[float, ...]

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Spread:
        return cls(tuple(s * 1000 for s in seconds))

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        """The 95th percentile (nearest rank: a value that was actually measured)."""
        ordered = sorted(self.samples)
        return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    def text(self) -> str:
        """``412 ms [398-450]``: the median and the range."""
        return f"{ms(self.median)} [{self.low:.0f}-{self.high:.0f}]"

    def tail_text(self) -> str:
        """``p95 31 ms (p50 22, max 40)``: for latencies, where the slow ones matter."""
        return f"p95 {ms(self.p95)} (p50 {self.median:.0f}, max {self.high:.0f})"


def _factor(value: float) -> str:
    """``1.0x``, ``1.15x``: as the goals are written."""
    return f"{value:.1f}x" if value == round(value, 1) else f"{value:g}x"


def ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


def ratios(figure: Spread, anchor: Spread) -> tuple[float, ...]:
    """Sample-by-sample ratios of two interleaved series (A1/B1, A2/B2, ...)."""
    return tuple(a / b for a, b in zip(figure.samples, anchor.samples, strict=True) if b)


def range_text(values: Sequence[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if values else "n/a"


@dataclass(frozen=True)
class Figure:
    """One measure's result: the ratio of its figure to its anchor, and the goal for it."""

    measure: str
    ratio: float
    goal: float
    """The ratio this measure should stay at or under."""
    detail: str
    """The figure and its anchor with their spreads."""
    limit_ms: float | None = None
    """An absolute limit besides the ratio (the figure must stay under it)."""
    figure_ms: float | None = None

    @property
    def meets_goal(self) -> bool:
        under_limit = self.limit_ms is None or (
            self.figure_ms is not None and self.figure_ms < self.limit_ms
        )
        return self.ratio <= self.goal and under_limit

    def goal_text(self) -> str:
        limit = f" and < {self.limit_ms:.0f} ms" if self.limit_ms is not None else ""
        return f"goal <= {_factor(self.goal)}{limit}: {'met' if self.meets_goal else 'NOT met'}"

    def row(self) -> str:
        return f"{self.measure:<{WIDTH}} x{self.ratio:<6.2f} {self.goal_text()}"


def show(figure: Figure) -> Figure:
    """Print ``figure`` as soon as it is measured (a long run shows its progress)."""
    print(f"{figure.row()}\n    {figure.detail}", flush=True)
    return figure


def compared(
    measure: str, goal: float, figure: tuple[str, Spread], anchor: tuple[str, Spread]
) -> Figure:
    """A figure against an anchor measured in alternation with it: the ratio of the medians,
    and the sample-by-sample ratios for the spread."""
    (name, ours), (anchor_name, theirs) = figure, anchor
    return show(
        Figure(
            measure,
            ours.median / theirs.median,
            goal,
            f"{name} {ours.text()} vs {anchor_name} {theirs.text()}; "
            f"pair ratios {range_text(ratios(ours, theirs))}; n={len(ours.samples)}",
        )
    )


def table(figures: Sequence[Figure]) -> str:
    """Every figure, one line each, for the end of the run."""
    rows = [f"{'measure':<{WIDTH}} {'ratio':<7} goal"]
    rows += [figure.row() for figure in figures]
    return "\n".join(rows)
