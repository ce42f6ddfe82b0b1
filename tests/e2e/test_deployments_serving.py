"""A running server follows a model's deployment: canary shares and sticky keys, shadow
answers logged beside the primary's, blue-green switches and rollbacks under load on
several workers, a candidate that cannot load, and the arms' counts and metrics."""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from shipyard import Project
from shipyard.deployments import key_point
from shipyard.prediction_log.lines import complete_lines
from shipyard.store.records import DeploymentRecord
from tests.e2e.serving_fixtures import RunningServer, rows, served, start_server

FOLLOW_SECONDS = 2.0  # a change is in effect on every worker within this


@pytest.fixture(scope="module")
def project_folder(two_versions: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model 'houses' with versions 1 (production) and 2: the session's, copied."""
    return Path(shutil.copytree(two_versions, tmp_path_factory.mktemp("deployed") / "houses"))


@pytest.fixture(scope="module")
def server(project_folder: Path) -> Iterator[RunningServer]:
    # One version cached beside those served: a candidate rolled back leaves the cache,
    # so that the next deployment loads it again.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHIPYARD_REGISTRY_CACHE_VERSIONS", "1")
        yield from served(project_folder)


@pytest.fixture
def project(project_folder: Path) -> Iterator[Project]:
    with Project.open(project_folder) as project:
        yield project
        if project.deployments.current("houses") is not None:
            project.deployments.rollback("houses", reason="end of test")


def wait_for(condition: Callable[[], Any], *, timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def deployment_seen(server: RunningServer) -> dict[str, Any] | None:
    (model,) = httpx.get(f"{server.url}/v2", timeout=5).json()["models"]
    found: dict[str, Any] | None = model.get("deployment")
    return found


def follow(server: RunningServer, record: DeploymentRecord | None) -> dict[str, Any] | None:
    """Wait until the server serves ``record`` (None: no deployment)."""

    def seen() -> Any:
        shown = deployment_seen(server)
        if record is None:
            return shown is None
        return shown if shown is not None and shown["id"] == record.id else None

    return wait_for(seen, timeout=FOLLOW_SECONDS + 3, what=f"the server follows {record}")  # type: ignore[no-any-return]


async def predict_many(
    url: str, bodies: list[tuple[dict[str, str], dict[str, Any]]], *, concurrency: int = 16
) -> list[dict[str, Any]]:
    """POST every (headers, body) to /predict, ``concurrency`` at a time, in order.

    Plain HTTP/1.1 on kept-alive sockets: ten thousand requests take seconds, not the
    minute an HTTP client library needs on a busy machine.
    """
    host, port = url.removeprefix("http://").split(":")
    answers: list[dict[str, Any]] = [{} for _ in bodies]
    queue = iter(enumerate(bodies))

    async def work() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for index, (headers, body) in queue:
                content = orjson.dumps(body)
                extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                writer.write(
                    f"POST /predict HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json"
                    f"\r\ncontent-length: {len(content)}\r\n{extra}\r\n".encode()
                    + content
                )
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
                status = int(head.split(" ", 2)[1])
                length = int(head.split("content-length:", 1)[1].split("\r\n", 1)[0])
                answer = await reader.readexactly(length)
                assert status == 200, answer
                answers[index] = orjson.loads(answer)
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(work() for _ in range(concurrency))), timeout=300)
    return answers


def log_lines(project: Project, ids: set[str]) -> list[dict[str, Any]]:
    """The logged predictions whose id or shadow_of is in ``ids``."""
    frame = project.prediction_log().read(model="houses")
    picked = frame[frame["prediction_id"].isin(ids) | frame["shadow_of"].isin(ids)]
    return picked.to_dict(orient="records")  # type: ignore[no-any-return]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Prometheus text as {(name, labels): value}."""
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name, _, labels = series.partition("{")
        pairs = re.findall(r'(\w+)="([^"]*)"', labels)
        found[name, frozenset(pairs)] = float(value)
    return found


def stored_counts(project: Project, record: DeploymentRecord) -> dict[str, tuple[int, int]]:
    return {
        arm: (counts.requests, counts.errors)
        for arm, counts in project.store.deployments.counts(record.id).items()
    }


def test_a_canary_answers_its_share_and_the_primary_shadows_it(
    server: RunningServer, project: Project
) -> None:
    record = project.deployments.deploy("houses", 2, strategy="canary", percent=10,
                                        reason="canary test")  # fmt: skip
    assert follow(server, record)["candidate_loaded"] is True
    one = rows(1)[0]
    answers = asyncio.run(predict_many(server.url, [({}, {"instances": [one]})] * 10_000))
    by_arm = {"primary": 0, "candidate": 0}
    for answer in answers:
        assert answer["version"] == (2 if answer["arm"] == "candidate" else 1)
        by_arm[answer["arm"]] += 1
    assert 850 <= by_arm["candidate"] <= 1150, by_arm  # 10 ± 1.5%

    # The canary's answers are logged as the candidate's; the primary answered the same
    # requests in shadow, linked to them.
    canary = {
        i for answer in answers if answer["arm"] == "candidate" for i in answer["prediction_ids"]
    }
    lines = wait_for(
        lambda: (found := log_lines(project, canary)) and len(found) == 2 * len(canary) and found,
        what="every canary answer and its shadow in the log",
    )
    answered = {line["prediction_id"]: line for line in lines if line["variant"] == "candidate"}
    shadows = [line for line in lines if line["variant"] == "shadow"]
    assert set(answered) == canary and {line["version"] for line in answered.values()} == {2}
    assert sorted(line["shadow_of"] for line in shadows) == sorted(canary)
    assert {line["version"] for line in shadows} == {1}

    # Every request is counted on its arm in the store; the primary's shadow on its own.
    wait_for(
        lambda: (
            stored_counts(project, record)["candidate"][0] == by_arm["candidate"]
            and stored_counts(project, record)["primary"][0] == by_arm["primary"]
            and stored_counts(project, record)["primary.shadow"][0] == by_arm["candidate"]
        ),
        what="the arms' counts in the store",
    )
    assert stored_counts(project, record)["candidate.shadow"] == (0, 0)
    assert all(errors == 0 for _, errors in stored_counts(project, record).values())

    metrics = samples(httpx.get(f"{server.url}/metrics", timeout=5).text)
    for arm, version in (("candidate", 2), ("primary", 1), ("primary.shadow", 1)):
        labels = {"arm": arm, "model": "houses", "version": str(version)}
        assert metrics["shipyard_predictions_total", frozenset(labels.items())] >= 1
        key = ("shipyard_prediction_latency_seconds_count", frozenset(labels.items()))
        assert metrics[key] >= 1

    project.deployments.rollback("houses", reason="canary seen")
    follow(server, None)
    after = asyncio.run(predict_many(server.url, [({}, {"instances": [one]})] * 50))
    assert {(answer["version"], answer["arm"]) for answer in after} == {(1, "primary")}


def test_a_sticky_key_keeps_each_customer_on_one_arm(
    server: RunningServer, project: Project
) -> None:
    record = project.deployments.deploy("houses", 2, strategy="canary", percent=30,
                                        sticky_key="Customer", reason="sticky test")  # fmt: skip
    follow(server, record)
    one = rows(1)[0]
    keys = [f"customer-{n}" for n in range(150)]
    by_header = [({"customer": key}, {"instances": [one]}) for key in keys * 2]
    by_field = [({}, {"instances": [one | {"Customer": key}, one]}) for key in keys]
    answers = asyncio.run(predict_many(server.url, by_header + by_field))
    arms: dict[str, set[str]] = {}
    for key, answer in zip(keys * 3, answers, strict=True):
        arms.setdefault(key, set()).add(answer["arm"])
    for key, seen in arms.items():
        assert seen == {"candidate" if key_point(key) < 30 else "primary"}, key
    assert 0.2 < sum(seen == {"candidate"} for seen in arms.values()) / len(keys) < 0.4

    # The Open Inference Protocol's requests are routed alike; its answer names the version.
    tensors = [
        {"name": column, "shape": [1], "datatype": "BYTES" if isinstance(value, str) else "FP64",
         "data": [value]}
        for column, value in one.items() if value is not None
    ]  # fmt: skip
    for key in keys[:20]:
        answer = httpx.post(
            f"{server.url}/v2/models/houses/infer", json={"inputs": tensors},
            headers={"Customer": key}, timeout=30,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == ("2" if key_point(key) < 30 else "1")


def test_a_shadow_is_logged_linked_and_never_returned(
    server: RunningServer, project: Project
) -> None:
    record = project.deployments.deploy("houses", 2, strategy="shadow",
                                        reason="shadow test")  # fmt: skip
    follow(server, record)
    bodies = [({}, {"instances": rows(2, seed=n)}) for n in range(60)]
    answers = asyncio.run(predict_many(server.url, bodies, concurrency=8))
    assert {(answer["version"], answer["arm"]) for answer in answers} == {(1, "primary")}
    returned = {i for answer in answers for i in answer["prediction_ids"]}
    lines = wait_for(
        lambda: (
            (found := log_lines(project, returned)) and len(found) == 2 * len(returned) and found
        ),
        what="every answer and its shadow in the log",
    )
    shadows = {line["shadow_of"]: line for line in lines if line["variant"] == "shadow"}
    assert set(shadows) == returned  # one shadow answer for each answer returned
    assert {line["version"] for line in shadows.values()} == {2}
    primaries = {line["prediction_id"]: line for line in lines if line["variant"] == "primary"}
    for prediction_id, shadow in shadows.items():
        assert shadow["inputs"] == primaries[prediction_id]["inputs"]
        assert shadow["prediction_id"] not in returned
    wait_for(
        lambda: (
            stored_counts(project, record)["candidate.shadow"] == (60, 0)
            and stored_counts(project, record)["primary"] == (60, 0)
        ),
        what="the shadow's counts in the store",
    )
    metrics = samples(httpx.get(f"{server.url}/metrics", timeout=5).text)
    labels = frozenset({"arm": "candidate.shadow", "model": "houses", "version": "2"}.items())
    assert metrics["shipyard_predictions_total", labels] == 120
    assert ("shipyard_shadow_dropped_rows_total", frozenset({"model": "houses"}.items())) not in (
        metrics
    )


def test_a_candidate_that_fails_to_load_leaves_the_primary_serving(
    server: RunningServer, project: Project
) -> None:
    follow(server, None)  # the last test's candidate has left the server's cache
    record = project.registry.resolve("houses:2")
    project.registry.load(record)  # the deploying process checks it from its cache
    tree = project.artifacts.materialize(record.package.digest, "dir")
    damaged = next(path for path in sorted(tree.rglob("*")) if path.is_file())
    original, mode = damaged.read_bytes(), damaged.stat().st_mode
    try:
        damaged.chmod(0o644)
        damaged.write_bytes(original + b"damage")
        deployed = project.deployments.deploy("houses", 2, strategy="canary", percent=100,
                                              reason="broken candidate")  # fmt: skip
        assert follow(server, deployed)["candidate_loaded"] is False
        answers = asyncio.run(predict_many(server.url, [({}, {"instances": rows(1)})] * 100))
        assert {(answer["version"], answer["arm"]) for answer in answers} == {(1, "primary")}
    finally:
        damaged.write_bytes(original)
        damaged.chmod(mode)
    wait_for(
        lambda: stored_counts(project, deployed)["primary"] == (100, 0),
        what="the primary's counts of the deployment",
    )


def spooled(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Each worker's logged predictions (its spool files carry its process id); a line
    a worker is writing right now, or a file it is creating, is left for the next look."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in (folder / ".shipyard" / "spool").iterdir():
        worker = path.name.split("-")[-2]
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a file being created, renamed since the listing
            continue
        for line in complete_lines(data):
            if line:
                found.setdefault(worker, []).append(orjson.loads(line))
    return found


@pytest.mark.slow
def test_switch_and_rollback_under_load_reach_every_worker_without_a_failure(
    two_versions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path(shutil.copytree(two_versions, tmp_path / "houses"))
    with Project.open(folder) as project:
        project.deployments.deploy("houses", 2, strategy="blue-green", reason="blue-green test")
    monkeypatch.setenv("SHIPYARD_SERVE_COMPACT_SECONDS", "600")  # spool files stay to be read
    server = start_server(folder, "--workers", "2")
    failures: list[str] = []
    stop, armed = threading.Event(), threading.Event()

    def load(seed: int) -> None:
        body = orjson.dumps({"instances": rows(1, seed=seed)})
        while not stop.is_set():
            # New connections now and then: the kernel gives each to either worker.
            with httpx.Client(base_url=server.url, timeout=30) as client:
                for _ in range(20):
                    if stop.is_set():
                        break
                    try:
                        answer = client.post("/predict", content=body)
                    except httpx.TransportError as exc:
                        failures.append(repr(exc))
                        continue
                    # Until both workers answer, one may still be loading its models (503).
                    if answer.status_code != 200 and armed.is_set():
                        failures.append(answer.text)

    threads = [threading.Thread(target=load, args=(n,)) for n in range(32)]
    try:
        for thread in threads:
            thread.start()
        wait_for(lambda: len(spooled(folder)) == 2, timeout=120, what="both workers answer")
        time.sleep(1.0)
        armed.set()
        time.sleep(1.0)
        with Project.open(folder) as project:
            project.deployments.switch("houses", reason="under load")
            switched = time.time()
            time.sleep(FOLLOW_SECONDS + 2.0)
            project.deployments.rollback("houses", reason="under load")
            rolled_back = time.time()
            time.sleep(FOLLOW_SECONDS + 2.0)
        stop.set()
        for thread in threads:
            thread.join()
        workers = spooled(folder)
    finally:
        stop.set()
        server.stop()
    assert failures == []
    assert len(workers) == 2
    lags: dict[str, list[float]] = {}
    for worker, lines in workers.items():
        times = [(timestamp(line["ts"]), line["version"]) for line in lines]
        for change, old, new, end in (
            (switched, 1, 2, rolled_back), (rolled_back, 2, 1, float("inf"))
        ):  # fmt: skip
            window = [(when, version) for when, version in times if change <= when < end]
            first = min(when for when, version in window if version == new)
            lags.setdefault(worker, []).append(first - change)
            late = [when for when, version in window if version == old and when > first]
            assert late == [] or max(late) - change < FOLLOW_SECONDS, (worker, change)
            settled = [version for when, version in window if when >= change + FOLLOW_SECONDS]
            assert len(settled) > 20 and set(settled) == {new}, (worker, change)
    assert all(lag < FOLLOW_SECONDS for worker_lags in lags.values() for lag in worker_lags), lags
    print(f"seconds from each change to each worker's first answer of it: {lags}")


def timestamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
