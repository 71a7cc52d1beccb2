"""The registry: ids, panes, selection and checklist references."""

from __future__ import annotations

import pytest

from checks import catalog, checklist
from checks.core import Registry, passed


def make_registry() -> Registry:
    registry = Registry()
    for check_id, pane, needs in (
        ("a.one", "environment", ()),
        ("a.two", "health", ("a.one",)),
        ("a.three", "security", ()),
    ):

        @registry.check(id=check_id, pane=pane, title=check_id, needs=needs)
        async def fn(ctx):  # type: ignore[no-untyped-def]
            return passed("ok")

    return registry


def test_select_by_pane_pulls_in_needs() -> None:
    ids = [s.id for s in make_registry().select(panes=["health"])]
    assert ids == ["a.one", "a.two"]


def test_select_everything_when_nothing_is_named() -> None:
    assert len(make_registry().select()) == 3


def test_unknown_id_is_refused_by_name() -> None:
    with pytest.raises(KeyError, match=r"a\.nope"):
        make_registry().select(ids=["a.nope"])


@pytest.mark.parametrize("bad", ["Env.Key", "env", "env.Fernet_key", "env.-x"])
def test_ids_must_be_kebab_case_under_an_area(bad: str) -> None:
    registry = Registry()
    with pytest.raises(ValueError, match="kebab-case"):
        registry.check(id=bad, pane="environment", title="x")(passed)  # type: ignore[arg-type]


def test_duplicate_ids_are_refused() -> None:
    registry = make_registry()
    with pytest.raises(ValueError, match="twice"):
        registry.check(id="a.one", pane="environment", title="x")(passed)  # type: ignore[arg-type]


def test_unknown_pane_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown pane"):
        Registry().check(id="a.x", pane="kitchen", title="x")(passed)  # type: ignore[arg-type]


def test_every_builtin_check_names_a_real_checklist_item() -> None:
    refs = set(checklist.all_refs())
    registry = catalog.load()
    assert registry.checks, "no checks registered"
    # The tool's own audit trail and waiver file are not items of the deployment checklist.
    own_trail = {"audit.unfinished-fixes", "release.waivers"}
    for spec in registry.checks.values():
        if spec.id in own_trail:
            continue
        assert spec.checklist is not None, f"{spec.id} names no checklist item"
        assert spec.checklist in refs, f"{spec.id}: {spec.checklist} is not in the checklist"


def test_every_builtin_action_is_offered_by_some_check_and_exists() -> None:
    registry = catalog.load()
    for action in registry.actions.values():
        assert action.pane in {s.pane for s in registry.checks.values()}


def test_coverage_states() -> None:
    rows = checklist.coverage(catalog.load().checks.values())
    states = {row.state for row in rows}
    assert "automated" in states and "not covered" in states
    assert len(rows) == len(checklist.all_refs())


def test_an_item_is_automated_only_when_a_check_verifies_all_of_it() -> None:
    registry = Registry()
    item = ("Monitoring & alerts", "Database")
    registry.check(id="a.one", pane="health", title="x", checklist=item, partial="disk")(passed)  # type: ignore[arg-type]
    registry.check(id="a.two", pane="health", title="x", checklist=item, partial="lag")(passed)  # type: ignore[arg-type]
    [row] = [
        r
        for r in checklist.coverage(registry.checks.values())
        if r.ref.item == "Database" and r.ref.section == "Monitoring & alerts"
    ]
    assert (row.state, row.missing) == ("partial", "disk; lag")
    registry.check(id="a.three", pane="health", title="x", checklist=item)(passed)  # type: ignore[arg-type]
    [row] = [r for r in checklist.coverage(registry.checks.values()) if r.ref == row.ref]
    assert (row.state, row.missing) == ("automated", "")


def test_the_coverage_map_does_not_credit_checks_for_items_they_do_not_verify() -> None:
    rows = {
        (r.ref.section, r.ref.item): r for r in checklist.coverage(catalog.load().checks.values())
    }
    assert (
        "redis.reachable"
        not in rows[("Post-deployment verification", "Backend API health")].check_ids
    )
    # env.file-permissions alone leaves the code out; only sec.keys-in-code, which reads it,
    # makes the item automated.
    keys = ("Security checklist", "API keys in environment, not in code")
    assert rows[keys].state == "automated"
    without_scan = [s for s in catalog.load().checks.values() if s.id != "sec.keys-in-code"]
    rows = {(r.ref.section, r.ref.item): r for r in checklist.coverage(without_scan)}
    assert rows[keys].state == "partial"


def test_a_misspelt_need_is_refused() -> None:
    registry = Registry()
    registry.check(id="a.one", pane="health", title="x", needs=["a.tow"])(passed)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"needs unknown check\(s\): a\.tow"):
        registry.select()


def test_a_cycle_of_needs_is_refused() -> None:
    registry = Registry()
    registry.check(id="a.one", pane="health", title="x", needs=["a.two"])(passed)  # type: ignore[arg-type]
    registry.check(id="a.two", pane="health", title="x", needs=["a.one"])(passed)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"cycle: a\.one -> a\.two -> a\.one"):
        registry.select()


def test_a_check_says_whether_it_writes_to_the_app() -> None:
    registry = make_registry()

    @registry.check(id="a.writes", pane="health", title="Creates a test record", writes=True)
    async def writes(ctx):  # type: ignore[no-untyped-def]
        return passed("ok")

    assert registry.checks["a.writes"].writes is True
    assert registry.checks["a.one"].writes is False  # the default: it only looks


def test_list_says_which_checks_write_to_the_app() -> None:
    from toolbox_tui.listing import render_list

    registry = make_registry()

    @registry.check(id="a.writes", pane="health", title="Creates a test record", writes=True)
    async def writes(ctx):  # type: ignore[no-untyped-def]
        return passed("ok")

    text = render_list(registry, "text")
    assert "Creates a test record (writes to the app)" in text
    assert "a.one (writes" not in text
    markdown = render_list(registry, "markdown")
    assert "| `a.writes` | health | Creates a test record (writes to the app) |" in markdown
    assert "| `a.one` | environment | a.one |" in markdown


def test_the_builtin_checks_that_write_to_the_app() -> None:
    registry = catalog.load()
    assert {spec.id for spec in registry.checks.values() if spec.writes} == {
        "smoke.upload-init",
        "smoke.roblox-environment",
        "sec.token-revocation",
        "sec.webhook-signature",
        "sec.rate-limit",
        "rollback.downgrades",  # a scratch database on the server
    }


def test_pane_rank_is_the_panes_order_and_an_unknown_pane_comes_last() -> None:
    from checks.core import PANE_IDS, pane_rank

    assert [pane_rank(pane) for pane in PANE_IDS] == list(range(len(PANE_IDS)))
    assert pane_rank("nowhere") == len(PANE_IDS)


def test_the_health_pane_registers_its_modules_in_order() -> None:
    import checks.health

    registry = catalog.load(["health"])
    modules = [
        spec.func.__module__.removeprefix("checks.health.")
        for spec in registry.in_pane_order()
        if spec.pane == checks.health.PANE
    ]
    assert list(dict.fromkeys(modules)) == list(checks.health.MODULES)
