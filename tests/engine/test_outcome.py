"""Outcome helpers: a note added to a verdict keeps everything else it carries."""

from __future__ import annotations

from checks.core import Status, failed, noted


def test_a_note_keeps_the_hint_evidence_and_actions() -> None:
    outcome = failed("Failed: it broke.", "Fix it.", actions=("fix.it",), step=2)
    note = noted(outcome, "The test environment was removed.")
    assert note.status is Status.FAIL
    assert note.message == "Failed: it broke. The test environment was removed."
    assert (note.hint, dict(note.evidence), note.actions) == ("Fix it.", {"step": "2"}, ("fix.it",))
