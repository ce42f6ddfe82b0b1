"""A deployment's routing: who answers a request, who answers its copy in shadow, and
how a sticky key keeps a customer on one arm."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shipyard.deployments import key_point
from shipyard.serving.catalog import Choice, Routing
from shipyard.store.records import DeploymentRecord

PRIMARY: Any = object()  # stand-ins for loaded versions: routing only hands them on
CANDIDATE: Any = object()


def deployment(strategy: str, percent: float = 0.0, **changes: Any) -> DeploymentRecord:
    fields: dict[str, Any] = {
        "id": 4, "model": "houses", "primary_version": 1, "candidate_version": 2,
        "strategy": strategy, "percent": percent, "sticky_key": None, "live": "primary",
        "status": "active", "analysis": None, "next_analysis_at": None, "lease_owner": None,
        "lease_until": None, "revision": 1, "created_at": datetime.now(UTC), "ended_at": None,
    }  # fmt: skip
    return DeploymentRecord(**(fields | changes))


def arms(routing: Routing, count: int, **request: Any) -> list[str]:
    return [routing.choose(request.get("rows", [{}]), request.get("headers", [])).arm
            for _ in range(count)]  # fmt: skip


def test_without_a_deployment_the_primary_answers_uncounted() -> None:
    choice = Routing(PRIMARY, None, None).choose([{}], [])
    assert choice == Choice(PRIMARY, "primary", None)


def test_a_canary_answers_its_share_and_the_primary_shadows_it() -> None:
    routing = Routing(PRIMARY, CANDIDATE, deployment("canary", 10))
    chosen = arms(routing, 20_000)
    assert 0.09 < chosen.count("candidate") / len(chosen) < 0.11
    taken = Choice(CANDIDATE, "candidate", 4, PRIMARY, "primary.shadow")
    plain = Choice(PRIMARY, "primary", 4)
    assert {routing.choose([{}], []) for _ in range(200)} == {taken, plain}
    assert set(arms(Routing(PRIMARY, CANDIDATE, deployment("canary", 0)), 300)) == {"primary"}
    assert set(arms(Routing(PRIMARY, CANDIDATE, deployment("canary", 100)), 300)) == {"candidate"}


def test_a_shadow_copies_its_share_and_never_answers() -> None:
    routing = Routing(PRIMARY, CANDIDATE, deployment("shadow", 50))
    choices = [routing.choose([{}], []) for _ in range(2000)]
    assert {(c.served, c.arm) for c in choices} == {(PRIMARY, "primary")}
    copied = [c for c in choices if c.shadow is not None]
    assert 0.45 < len(copied) / len(choices) < 0.55
    assert {(c.shadow, c.shadow_arm) for c in copied} == {(CANDIDATE, "candidate.shadow")}


@pytest.mark.parametrize("live", ["primary", "candidate"])
def test_blue_green_sends_everything_to_the_live_arm(live: str) -> None:
    routing = Routing(PRIMARY, CANDIDATE, deployment("blue-green", live=live))
    expected = Choice(PRIMARY if live == "primary" else CANDIDATE, live, 4)
    assert {routing.choose([{}], []) for _ in range(50)} == {expected}


def test_a_candidate_that_is_not_loaded_leaves_the_primary_answering() -> None:
    for record in (deployment("canary", 100), deployment("blue-green", live="candidate")):
        routing = Routing(PRIMARY, None, record)
        assert routing.choose([{}], []) == Choice(PRIMARY, "primary", 4)


def test_a_sticky_key_is_a_header_first_then_a_field_of_the_first_row() -> None:
    routing = Routing(PRIMARY, CANDIDATE, deployment("canary", 30, sticky_key="Customer"))
    keys = [f"customer-{n}" for n in range(300)]
    for key in keys:
        wanted = "candidate" if key_point(key) < 30 else "primary"
        # The header (names arrive lowercase in ASGI), always the same arm:
        assert set(arms(routing, 3, headers=[(b"customer", key.encode())])) == {wanted}
        # The first row's field, when no header is sent; the other rows meet the same arm:
        assert set(arms(routing, 3, rows=[{"Customer": key}, {"Customer": "x"}])) == {wanted}
    inside = next(k for k in keys if key_point(k) < 30)
    outside = next(k for k in keys if key_point(k) >= 30)
    both = {"headers": [(b"customer", inside.encode())], "rows": [{"Customer": outside}]}
    assert arms(routing, 1, **both) == ["candidate"]  # the header wins
    assert routing.sticky_value([{"Customer": 17}], []) == "17"  # any value, as text
    assert routing.sticky_value([{}], [(b"other", b"x")]) is None  # no key: random


def test_routings_that_route_alike_are_recognised() -> None:
    record = deployment("canary", 10)
    routing = Routing(PRIMARY, CANDIDATE, record)
    assert routing.same_as(Routing(PRIMARY, CANDIDATE, record))
    assert not routing.same_as(Routing(PRIMARY, CANDIDATE, deployment("canary", 20, revision=2)))
    assert not routing.same_as(Routing(PRIMARY, None, record))
    assert routing.describe()["candidate_loaded"] is True


@pytest.mark.parametrize("strategy", ["canary", "shadow", "blue-green"])
def test_a_request_naming_a_version_is_answered_by_it_outside_the_split(strategy: str) -> None:
    routing = Routing(PRIMARY, CANDIDATE, deployment(strategy, 50))
    assert routing.pinned(PRIMARY) == Choice(PRIMARY, "primary")
    assert routing.pinned(CANDIDATE) == Choice(CANDIDATE, "candidate")
    older: Any = object()  # another registered version, loaded for the request
    assert routing.pinned(older) == Choice(older, "primary")
