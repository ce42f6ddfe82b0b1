"""Deployments over HTTP, and the API token on every route that changes state."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard import Project
from tests.e2e.serving_fixtures import RunningServer, rows, served

TOKEN = "s3cret-token-for-the-tests"


@pytest.fixture(scope="module")
def folder(two_versions: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project for the module: each test leaves version 1 in production and no
    deployment, as it found it."""
    folder = tmp_path_factory.mktemp("admin") / "houses"
    shutil.copytree(two_versions, folder)
    return folder


@pytest.fixture(scope="module")
def guarded(folder: Path) -> Iterator[RunningServer]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHIPYARD_API_TOKEN", TOKEN)
        yield from served(folder)


def _state(folder: Path) -> tuple[int, int, int]:
    """What a refused call must leave alone: history length, production, feedback count."""
    with Project.open(folder) as project:
        history = len(project.deployments.history("houses"))
        production = project.registry.resolve("houses@production").version
        labelled = len(project.prediction_log().predictions_with_feedback())
    return history, production, labelled


STATE_CHANGING = [
    ("/admin/deployments/houses/deploy", {"version": 2, "percent": 10}),
    ("/admin/deployments/houses/percent", {"percent": 50}),
    ("/admin/deployments/houses/switch", {}),
    ("/admin/deployments/houses/promote", {}),
    ("/admin/deployments/houses/rollback", {}),
]


def test_without_the_token_every_state_changing_route_is_refused(
    guarded: RunningServer, folder: Path
) -> None:
    with guarded.client() as client:
        answer = client.post("/predict", json={"instances": rows(1)})
        assert answer.status_code == 200  # predictions stay open by default
        prediction_id = answer.json()["prediction_ids"][0]
        before = _state(folder)
        feedback = ("/feedback", {"prediction_id": prediction_id, "label": 1.0})
        for path, body in [*STATE_CHANGING, feedback]:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                refused = client.post(path, json=body, headers=headers)
                assert refused.status_code == 401, (path, headers, refused.text)
                assert refused.headers["www-authenticate"] == "Bearer"
                assert "Authorization: Bearer" in refused.json()["detail"]
        for path in ("/admin/deployments", "/admin/deployments/houses"):
            assert client.get(path).status_code == 401
        paths = client.get("/openapi.json").json()["paths"]
        assert "401" in paths["/feedback"]["post"]["responses"]  # the token guards it
        assert "401" not in paths["/predict"]["post"]["responses"]  # open, as documented
        assert _state(folder) == before  # nothing changed

        bearer = {"Authorization": f"Bearer {TOKEN}"}
        answer = client.post(feedback[0], json=feedback[1], headers=bearer)
        assert answer.json() == {"recorded": 1, "replaced": 0}


def test_with_the_token_a_canary_is_deployed_moved_promoted_and_rolled_back(
    guarded: RunningServer, folder: Path
) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with guarded.client() as client:
        client.headers.update(bearer)
        made = client.post(
            "/admin/deployments/houses/deploy",
            json={"version": 2, "percent": 10, "sticky_key": "x-customer", "actor": "ann",
                  "reason": "try v2"},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["primary"], body["candidate"], body["percent"]) == (1, 2, 10)
        assert body["description"] == "canary v2 at 10% beside v1"

        moved = client.post("/admin/deployments/houses/percent", json={"percent": 50})
        assert moved.json()["percent"] == 50 and moved.json()["revision"] == 2
        listed = client.get("/admin/deployments").json()
        assert [d["id"] for d in listed] == [body["id"]]

        for row in rows(20, seed=3):
            assert client.post("/predict", json={"instances": [row]}).status_code == 200
        compared = client.get("/admin/deployments/houses/comparison")
        assert compared.status_code == 200, compared.text
        arms = compared.json()
        returned = [
            arms[a]["answers"] - arms[a]["shadow_answers"] for a in ("primary", "candidate")
        ]
        assert sum(returned) == 20  # every answer since the deployment, on one arm or the other
        assert (
            client.get("/admin/deployments/houses/comparison", params={"since": "soon"}).status_code
            == 422
        )

        assert client.post("/admin/deployments/houses/promote", json={}).json()["status"] == (
            "promoted"
        )
        state = client.get("/admin/deployments/houses").json()
        assert state["production"] == 2 and state["deployment"] is None
        assert [e["action"] for e in state["history"]] == ["deploy", "percent", "promote"]
        assert state["history"][0]["actor"] == "ann"
        assert state["history"][1]["actor"].startswith("api (127.0.0.1")

        back = client.post("/admin/deployments/houses/rollback", json={"reason": "worse"})
        assert back.status_code == 200 and back.json()["status"] == "rolled_back"
    with Project.open(folder) as project:
        assert project.registry.resolve("houses@production").version == 1


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/admin/deployments/houses/deploy", {"version": 9}, 422, "no version 9"),
        ("/admin/deployments/houses/deploy", {"version": 1}, 409, "already the production version"),
        ("/admin/deployments/nope/deploy", {"version": 1}, 404, "no model named 'nope'"),
        ("/admin/deployments/houses/deploy", {"version": 2, "percent": 101}, 422, "percent"),
        ("/admin/deployments/houses/deploy", {"version": "two"}, 422, '"field":"version"'),
        ("/admin/deployments/houses/promote", {}, 404, "has no deployment"),
        ("/admin/deployments/houses/switch", {}, 404, "has no deployment"),
    ],
)
def test_bad_calls_are_refused_naming_the_problem(
    guarded: RunningServer, folder: Path, path: str, body: dict[str, object], status: int,
    words: str,
) -> None:  # fmt: skip
    before = _state(folder)
    with httpx.Client(base_url=guarded.url, timeout=30) as client:
        answer = client.post(path, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == status, answer.text
    assert words in answer.text
    assert _state(folder) == before


def test_protected_predictions_need_the_token_too(
    folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    copy = tmp_path / "houses"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("spool"))
    monkeypatch.setenv("SHIPYARD_API_TOKEN", TOKEN)
    monkeypatch.setenv("SHIPYARD_SERVE_PROTECT_PREDICTIONS", "true")
    for server in served(copy):
        with server.client() as client:
            body = {"instances": rows(1)}
            assert client.post("/predict", json=body).status_code == 401
            assert client.post("/v2/models/houses/predict", json=body).status_code == 401
            allowed = client.post(
                "/predict", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert allowed.status_code == 200
            assert client.get("/v2/health/ready").status_code == 200  # health stays open
        server.process.terminate()
        assert server.process.stderr is not None
        assert TOKEN not in server.process.stderr.read().decode()  # never logged
