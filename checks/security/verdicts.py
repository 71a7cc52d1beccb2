"""What the Security pane's checks of the running app make of its answers, the same way in
each: a server error is not judged (:func:`server_error`), and a problem found on several
endpoints is said once, naming them all (:func:`said_once`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from checks.core import Outcome, failed

if TYPE_CHECKING:
    from checks.findings import Findings
    from checks.web import Answer


def server_error(answer: Answer, what: str, hint: str = "") -> Outcome | None:
    """FAIL when ``answer`` is a 5xx (``what`` says which request it was): the app broke, so
    nothing it sent can be judged. None otherwise."""
    if answer.status_code < 500:
        return None
    return failed(
        f"Answered {what} with {answer.status_text} at {answer.endpoint}, so it could not be "
        f"judged: {answer.excerpt()}",
        hint or "The app (or the proxy in front of it) is failing: look at its logs.",
        **answer.evidence(),
    )


def said_once(problems: Iterable[tuple[str, bool, str, str]], findings: Findings) -> None:
    """Each ``(where, fatal, problem, hint)`` into ``findings`` (a failure when ``fatal``), one
    line per problem naming every place that has it: ``{where}`` in it stands for them."""
    places: dict[tuple[bool, str, str], list[str]] = {}
    for where, fatal, problem, hint in problems:
        places.setdefault((fatal, problem, hint), []).append(where)
    for (fatal, problem, hint), wheres in places.items():
        line = problem.replace("{where}", " and ".join(wheres))
        (findings.fail if fatal else findings.warn)(line, hint)
