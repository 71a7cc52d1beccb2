"""What ``toolbox-tui list`` prints: the checks per pane, the actions, and which items of
the deployment checklist the checks cover (text, or Markdown for the README)."""

from __future__ import annotations

from checks import checklist
from checks.core import CheckSpec, Registry


def render_list(registry: Registry, fmt: str) -> str:
    """The catalogue: checks per pane, actions, and which checklist items are covered."""
    if fmt == "markdown":
        return _list_markdown(registry)
    lines = ["Checks"]
    for spec in registry.in_pane_order():
        lines.append(f"  {spec.id:<30} {spec.pane:<12} {_check_title(spec)}")
    lines.append("")
    lines.append("Actions")
    for action in registry.actions_in_pane_order():
        flag = "dangerous" if action.dangerous else ""
        lines.append(f"  {action.id:<30} {flag:<12} {action.title}")
    lines.append("")
    lines.append("Checklist coverage")
    for row in checklist.coverage(registry.in_pane_order()):
        ids = ", ".join(row.check_ids)
        lines.append(f"  {row.state:<12} {row.ref.section} > {row.ref.item}  {ids}")
        if row.missing:
            lines.append(f"  {'':<12} not verified: {row.missing}")
    return "\n".join(lines) + "\n"


def _check_title(spec: CheckSpec) -> str:
    """The check's title; one that writes to the app says so (--read-only skips it, watch
    never runs it)."""
    return f"{spec.title} (writes to the app)" if spec.writes else spec.title


def _state(row: checklist.Coverage) -> str:
    """``partial (not verified: ...)`` says what a partly covered item still needs."""
    return f"{row.state} (not verified: {row.missing})" if row.missing else row.state


def _list_markdown(registry: Registry) -> str:
    out = ["| check | pane | what it verifies |", "| --- | --- | --- |"]
    out += [f"| `{s.id}` | {s.pane} | {_check_title(s)} |" for s in registry.in_pane_order()]
    out += ["", "| action | dangerous | what it does |", "| --- | --- | --- |"]
    out += [
        f"| `{a.id}` | {'yes' if a.dangerous else 'no'} | {a.title} |"
        for a in registry.actions_in_pane_order()
    ]
    out += ["", "| checklist section | item | state | checks |", "| --- | --- | --- | --- |"]
    out += [
        f"| {r.ref.section} | {r.ref.item} | {_state(r)} | "
        f"{', '.join(f'`{i}`' for i in r.check_ids)} |"
        for r in checklist.coverage(registry.in_pane_order())
    ]
    return "\n".join(out) + "\n"
