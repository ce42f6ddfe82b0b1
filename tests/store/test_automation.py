"""Automation levels on SQLite and PostgreSQL: set, read, history and the change marker."""

from __future__ import annotations

import pytest

from shipyard import Project
from shipyard.errors import InvalidRequest, ModelNotFound


def test_a_level_is_set_changed_and_kept_in_the_history(registered: Project) -> None:
    levels = registered.store.automation
    assert levels.get("m") is None and levels.levels() == [] and levels.history("m") == []
    first = levels.set("m", level="partial", target_precision=0.9, max_interval_width=None,
                       actor="ann", reason="start careful")  # fmt: skip
    assert (first.level, first.target_precision, first.revision, first.updated_by) == (
        "partial",
        0.9,
        1,
        "ann",
    )
    second = levels.set("m", level="full", target_precision=None, max_interval_width=None,
                        actor="bob", reason="precision holds")  # fmt: skip
    assert (second.level, second.revision) == ("full", 2)
    assert levels.get("m") == second and levels.levels() == [second]
    assert levels.get("n") is None

    opened, changed = levels.history("m")
    assert (opened.actor, opened.reason, opened.before) == ("ann", "start careful", None)
    assert opened.after == first.state()
    assert (changed.actor, changed.before, changed.after) == ("bob", first.state(), second.state())
    assert opened.at <= changed.at and levels.history("n") == []


def test_the_change_marker_moves_with_every_change(registered: Project) -> None:
    levels = registered.store.automation
    seen = levels.change_marker()
    levels.set("n", level="assist", target_precision=None, max_interval_width=2.5,
               actor="ann", reason="")  # fmt: skip
    moved = levels.change_marker()
    assert moved != seen
    assert levels.change_marker() == moved  # reading changes nothing
    levels.set("n", level="assist", target_precision=None, max_interval_width=2.5,
               actor="ann", reason="again")  # fmt: skip
    assert levels.change_marker() != moved


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"level": "partal"}, "level", "'partal' is not an automation level.*did you mean"),
        ({"target_precision": 1.0}, "target_precision", "between 0 and 1"),
        ({"max_interval_width": 0.0}, "max_interval_width", "must be above 0"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(
    registered: Project, changes: dict[str, object], field: str, message: str
) -> None:
    settings: dict[str, object] = {
        "level": "partial", "target_precision": 0.9, "max_interval_width": None,
    } | changes  # fmt: skip
    levels = registered.store.automation
    with pytest.raises(InvalidRequest, match=message) as caught:
        levels.set("m", actor="ann", reason="", **settings)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert levels.get("m") is None and levels.history("m") == [] and levels.change_marker() == 0


def test_an_unknown_model_is_named(registered: Project) -> None:
    levels = registered.store.automation
    with pytest.raises(ModelNotFound, match="no model named 'x'; registered models: m, n"):
        levels.set("x", level="full", target_precision=None, max_interval_width=None,
                   actor="ann", reason="")  # fmt: skip
    with pytest.raises(ModelNotFound):
        levels.history("x")
    assert levels.get("x") is None
