"""``shipyard deploy-config docker|kubernetes`` on real project folders: the files it
writes, checked as Docker and Kubernetes would read them (kubernetes-validate's schemas),
the stores it refuses, and the secrets it never writes."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer
import yaml
from typer.testing import CliRunner

import shipyard
from shipyard import Project
from shipyard.cli.app import app
from shipyard.config import CONFIG_FILE
from tests.helpers import make_table, run_cli

KUBERNETES_VERSION = "1.30"
POSTGRES = "postgresql://shipyard@db.example:5432/shipyard"
BUCKET = "s3://models-bucket/shipyard"
# Values that must never reach a written file.
TOKEN = "tok-9f3b2c1d8e7a6b5c4d3e"
DB_PASSWORD = "pw-Zq81vXw0"
AWS_SECRET = "aws-secret-Yb41kLm2"
SECRET_ENV = {
    "SHIPYARD_API_TOKEN": TOKEN,
    "SHIPYARD_DB_URL": f"postgresql://app:{DB_PASSWORD}@db.example:5432/app",
    "SHIPYARD_ARTIFACTS_URL": BUCKET,
    "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
}


def _standard_project(folder: Path, **store: str) -> Path:
    """A project with a table, a target and, given ``store``, its store settings."""
    folder.mkdir(parents=True)
    make_table(rows=80).to_csv(folder / "houses.csv", index=False)
    Project.init(folder, data=folder / "houses.csv", target="price").close()
    if store:
        config = yaml.safe_load((folder / CONFIG_FILE).read_text())
        config["store"] = store
        (folder / CONFIG_FILE).write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


@pytest.fixture
def local_project(tmp_path: Path) -> Path:
    """The embedded defaults: SQLite in .shipyard/ and a local artifact folder."""
    return _standard_project(tmp_path / "houses")


@pytest.fixture
def shared_project(tmp_path: Path) -> Path:
    """PostgreSQL and an S3 bucket (never connected to: the command only reads settings)."""
    return _standard_project(tmp_path / "houses", database=POSTGRES, artifacts=BUCKET)


def _documents(folder: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in sorted(folder.glob("*.yaml"))
    }


def _by_kind(folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (doc["kind"], doc["metadata"]["name"]): doc
        for docs in _documents(folder).values()
        for doc in docs
        if doc["kind"] != "Kustomization"
    }


def _validate(resource: dict[str, Any]) -> None:
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def _dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined."""
    instructions, pending = [], ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            keyword, _, arguments = pending.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
            pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def _assert_a_real_command(args: list[str]) -> None:
    """``args`` parse with the real CLI: every flag the files use exists."""
    assert args[0] == "shipyard"
    command = typer.main.get_command(app)
    context = command.make_context("shipyard", list(args[1:]), resilient_parsing=False)
    name, sub, rest = command.resolve_command(context, list(args[1:]))
    assert sub is not None, args
    sub.make_context(name or "", rest, parent=context)


def _container(resource: dict[str, Any]) -> dict[str, Any]:
    spec = resource["spec"]
    if resource["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    containers = spec["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


# -- docker -----------------------------------------------------------------------------


def test_docker_writes_a_non_root_health_checked_image_of_the_project(
    local_project: Path,
) -> None:
    result = run_cli("deploy-config", "docker", cwd=local_project)
    assert result.returncode == 0, result.stderr

    steps = _dockerfile(local_project / "Dockerfile")
    keywords = [keyword for keyword, _ in steps]
    assert keywords[0] == "FROM" and steps[0][1].startswith("python:3.")
    assert steps[0][1].endswith("-slim")
    installs = [args for keyword, args in steps if keyword == "RUN" and "pip install" in args]
    assert installs == ['pip install "${SHIPYARD_REQUIREMENT}"']
    requirement = dict(steps)["ARG"]
    assert requirement == f'SHIPYARD_REQUIREMENT="shipyard=={shipyard.__version__}"'  # no extras
    copied = [args.split()[-2] for keyword, args in steps if keyword == "COPY"]
    assert copied == ["shipyard.yaml", "houses.csv"]
    user = [args for keyword, args in steps if keyword == "USER"]
    assert len(user) == 1 and user[0] not in ("root", "0")
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")
    assert ("VOLUME", "/app/.shipyard") in steps  # the SQLite file outlives the container
    health = dict(steps)["HEALTHCHECK"]
    assert "/v2/health/ready" in health and " CMD " in f" {health}"
    command = json.loads(dict(steps)["CMD"])
    assert command == ["shipyard", "serve", "--host", "0.0.0.0", "--port", "8000"]
    _assert_a_real_command(command)
    assert ("EXPOSE", "8000") in steps

    ignored = (local_project / ".dockerignore").read_text().splitlines()
    assert ".shipyard/" in ignored and ".venv/" in ignored

    compose = yaml.safe_load((local_project / "compose.yaml").read_text())
    services = compose["services"]
    assert services["server"]["ports"] == ["8000:8000"]
    assert services["server"]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert "--watch" in services["monitor"]["command"]
    for service in ("monitor", "ui"):
        _assert_a_real_command(services[service]["command"])
    assert "wrote" in result.stdout and "docker build" in result.stdout


def test_docker_installs_the_extras_the_stores_need_and_builds_from_another_folder(
    shared_project: Path,
) -> None:
    out = shared_project / "deploy" / "docker"
    result = run_cli("deploy-config", "docker", "--output", str(out), cwd=shared_project)
    assert result.returncode == 0, result.stderr

    steps = _dockerfile(out / "Dockerfile")
    requirement = f'SHIPYARD_REQUIREMENT="shipyard[postgres,s3]=={shipyard.__version__}"'
    assert ("ARG", requirement) in steps
    assert not any(keyword == "VOLUME" for keyword, _ in steps)  # the state is shared
    # The build context stays the project: BuildKit reads the ignore file beside the
    # Dockerfile, and compose points back at the project.
    assert ".shipyard/" in (out / "Dockerfile.dockerignore").read_text().splitlines()
    assert not (shared_project / ".dockerignore").exists()
    build = yaml.safe_load((out / "compose.yaml").read_text())["services"]["server"]["build"]
    assert build == {"context": "../..", "dockerfile": "deploy/docker/Dockerfile"}


# -- kubernetes -------------------------------------------------------------------------


def test_kubernetes_manifests_validate_and_wire_server_monitor_and_dashboard(
    shared_project: Path,
) -> None:
    result = run_cli(
        "deploy-config",
        "kubernetes",
        "--image",
        "registry.example/houses:1",
        "--namespace",
        "ml",
        "--replicas",
        "3",
        "--max-replicas",
        "8",
        "--cpu-target",
        "60",
        cwd=shared_project,
    )
    assert result.returncode == 0, result.stderr
    folder = shared_project / "deploy" / "kubernetes"
    documents = _documents(folder)
    kustomization = documents.pop("kustomization.yaml")[0]
    assert kustomization["resources"] == ["server.yaml", "monitor.yaml", "ui.yaml"]
    assert sorted(documents) == sorted(kustomization["resources"])
    for docs in documents.values():
        for resource in docs:
            _validate(resource)
            assert resource["metadata"]["namespace"] == "ml"

    resources = _by_kind(folder)
    assert sorted(resources) == [
        ("CronJob", "houses-monitor"),
        ("Deployment", "houses-server"),
        ("Deployment", "houses-ui"),
        ("HorizontalPodAutoscaler", "houses-server"),
        ("PodDisruptionBudget", "houses-server"),
        ("Service", "houses-server"),
        ("Service", "houses-ui"),
    ]
    server = resources["Deployment", "houses-server"]
    assert server["spec"]["replicas"] == 3
    container = _container(server)
    assert container["image"] == "registry.example/houses:1"
    _assert_a_real_command(container["args"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    from_secret = {
        env["name"]: env["valueFrom"]["secretKeyRef"]
        for env in container["env"]
        if "valueFrom" in env
    }
    assert {"SHIPYARD_DB_URL", "SHIPYARD_ARTIFACTS_URL", "SHIPYARD_API_TOKEN"} <= set(from_secret)
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(from_secret)  # s3://
    assert {ref["name"] for ref in from_secret.values()} == {"houses-shipyard"}
    # shipyard.yaml names shared stores: a missing key falls back to it.
    assert all(ref["optional"] for ref in from_secret.values())
    pod = server["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True

    service = resources["Service", "houses-server"]
    assert service["spec"]["selector"].items() <= server["spec"]["selector"]["matchLabels"].items()
    assert service["spec"]["ports"][0]["port"] == 8000
    autoscaler = resources["HorizontalPodAutoscaler", "houses-server"]["spec"]
    assert autoscaler["scaleTargetRef"]["name"] == "houses-server"
    assert (autoscaler["minReplicas"], autoscaler["maxReplicas"]) == (3, 8)
    target = autoscaler["metrics"][0]["resource"]
    assert target["name"] == "cpu" and target["target"]["averageUtilization"] == 60

    monitor = resources["CronJob", "houses-monitor"]
    assert monitor["spec"]["schedule"] == "* * * * *"  # monitoring.interval_seconds: 60
    assert monitor["spec"]["concurrencyPolicy"] == "Forbid"
    monitor_args = _container(monitor)["args"]
    assert monitor_args[:2] == ["shipyard", "monitor"] and "--watch" not in monitor_args
    _assert_a_real_command(monitor_args)
    ui_args = _container(resources["Deployment", "houses-ui"])["args"]
    _assert_a_real_command(ui_args)
    assert "kubectl apply -k" in result.stdout


def test_kubernetes_watch_monitor_and_a_dask_cluster_on_request(shared_project: Path) -> None:
    result = run_cli(
        "deploy-config",
        "kubernetes",
        "--monitor",
        "watch",
        "--replicas",
        "1",
        "--no-ui",
        "--dask",
        "--dask-workers",
        "4",
        "--dask-worker-memory",
        "3Gi",
        cwd=shared_project,
    )
    assert result.returncode == 0, result.stderr
    folder = shared_project / "deploy" / "kubernetes"
    assert sorted(p.name for p in folder.iterdir()) == [
        "dask-cluster.yaml",
        "kustomization.yaml",
        "monitor.yaml",
        "server.yaml",
    ]
    resources = _by_kind(folder)
    assert not any(kind == "PodDisruptionBudget" for kind, _ in resources)  # one replica
    monitor = resources["Deployment", "houses-monitor"]
    _validate(monitor)
    assert monitor["spec"]["replicas"] == 1 and monitor["spec"]["strategy"]["type"] == "Recreate"
    args = _container(monitor)["args"]
    assert "--watch" in args
    _assert_a_real_command(args)

    cluster = resources["DaskCluster", "houses-dask"]
    assert cluster["apiVersion"] == "kubernetes.dask.org/v1"
    assert cluster["spec"]["worker"]["replicas"] == 4
    # The custom resource has no published schema: its pod specs and service spec are
    # the core types, validated as such.
    for part in ("worker", "scheduler"):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": part}}
        _validate(pod | {"spec": cluster["spec"][part]["spec"]})
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "scheduler"}}
    _validate(service | {"spec": cluster["spec"]["scheduler"]["service"]})
    worker = cluster["spec"]["worker"]["spec"]["containers"][0]
    assert worker["image"] == "houses:latest" and worker["args"][:2] == ["dask", "worker"]
    assert worker["resources"]["limits"] == {"memory": "3Gi"}
    assert "SHIPYARD_EXECUTOR" not in {env["name"] for env in worker["env"]}
    server_env = {
        env["name"]: env for env in _container(resources["Deployment", "houses-server"])["env"]
    }
    assert server_env["SHIPYARD_DASK_SCHEDULER"]["value"] == "tcp://houses-dask-scheduler:8786"
    assert server_env["SHIPYARD_EXECUTOR"]["value"] == "dask"
    assert "Dask Kubernetes operator" in result.stdout

    dockerfile = run_cli("deploy-config", "docker", "--dask", cwd=shared_project)
    assert dockerfile.returncode == 0, dockerfile.stderr
    assert "shipyard[postgres,s3,dask]" in (shared_project / "Dockerfile").read_text()


def test_kubernetes_refuses_the_embedded_sqlite_file_and_a_local_artifact_folder(
    local_project: Path,
) -> None:
    result = run_cli("deploy-config", "kubernetes", "--replicas", "3", cwd=local_project)
    assert result.returncode == 1
    message = result.stderr
    assert "store.database is the embedded SQLite file" in message
    assert "PostgreSQL" in message and "store.artifacts is a local folder" in message
    assert "s3://" in message and "3 server replica(s)" in message
    assert len(message.strip().splitlines()) == 1
    assert not (local_project / "deploy").exists()

    # One server replica still shares the store with the monitor and the dashboard.
    single = run_cli("deploy-config", "kubernetes", "--replicas", "1", cwd=local_project)
    assert single.returncode == 1 and "SQLite" in single.stderr

    config = yaml.safe_load((local_project / CONFIG_FILE).read_text())
    config["store"] = {"database": POSTGRES}
    (local_project / CONFIG_FILE).write_text(yaml.safe_dump(config))
    artifacts_only = run_cli("deploy-config", "kubernetes", cwd=local_project)
    assert artifacts_only.returncode == 1
    assert "store.artifacts" in artifacts_only.stderr
    assert "store.database" not in artifacts_only.stderr


def test_shared_stores_given_by_environment_become_required_secret_keys(
    local_project: Path,
) -> None:
    # shipyard.yaml says SQLite; the operator's environment says PostgreSQL and S3.  The
    # pods then must get those URLs from the Secret, or they would each open an SQLite file.
    result = run_cli("deploy-config", "kubernetes", cwd=local_project, env=SECRET_ENV)
    assert result.returncode == 0, result.stderr
    server = _by_kind(local_project / "deploy" / "kubernetes")["Deployment", "houses-server"]
    refs = {
        env["name"]: env["valueFrom"]["secretKeyRef"]
        for env in _container(server)["env"]
        if "valueFrom" in env
    }
    assert refs["SHIPYARD_DB_URL"]["optional"] is False
    assert refs["SHIPYARD_ARTIFACTS_URL"]["optional"] is False
    assert refs["SHIPYARD_API_TOKEN"]["optional"] is True
    assert "database-url" in (local_project / "deploy" / "kubernetes" / "server.yaml").read_text()


def test_no_secret_value_reaches_any_written_file(shared_project: Path) -> None:
    # One secret in shipyard.yaml itself: the image would copy it, so the command warns.
    config = yaml.safe_load((shared_project / CONFIG_FILE).read_text())
    config["serve"] = {"token": "file-token-0123456789abcdef"}
    (shared_project / CONFIG_FILE).write_text(yaml.safe_dump(config))
    before = {path for path in shared_project.rglob("*") if path.is_file()}
    for target in ("docker", "kubernetes"):
        result = run_cli("deploy-config", target, cwd=shared_project, env=SECRET_ENV)
        assert result.returncode == 0, result.stderr
        assert "shipyard.yaml holds serve.token" in result.stderr
    written = {path for path in shared_project.rglob("*") if path.is_file()} - before
    assert len(written) == 7  # Dockerfile, .dockerignore, compose.yaml + 4 manifests
    for path in written:
        text = path.read_text()
        for secret in (TOKEN, DB_PASSWORD, AWS_SECRET, "file-token-0123456789abcdef"):
            assert secret not in text, f"{secret!r} written to {path}"


def test_existing_files_are_kept_unless_forced(shared_project: Path) -> None:
    (shared_project / "Dockerfile").write_text("FROM scratch\n")
    result = run_cli("deploy-config", "docker", cwd=shared_project)
    assert result.returncode == 1
    assert "already exist" in result.stderr and "--force" in result.stderr
    assert (shared_project / "Dockerfile").read_text() == "FROM scratch\n"
    assert not (shared_project / "compose.yaml").exists()
    forced = run_cli("deploy-config", "docker", "--force", cwd=shared_project)
    assert forced.returncode == 0, forced.stderr
    assert 'CMD ["shipyard", "serve"' in (shared_project / "Dockerfile").read_text()


@pytest.mark.parametrize(
    ("target", "options", "option", "reason"),
    [
        ("kubernetes", ["--replicas", "0"], "--replicas", "greater than or equal to 1"),
        ("kubernetes", ["--max-replicas", "1"], "--max-replicas", "below --replicas 2"),
        ("kubernetes", ["--image", "Not An Image"], "--image", "not an image reference"),
        ("kubernetes", ["--namespace", "ML_team"], "--namespace", "not a Kubernetes name"),
        ("kubernetes", ["--cpu", "lots"], "--cpu", "not a CPU quantity"),
        ("kubernetes", ["--memory", "1 GB"], "--memory", "not a memory quantity"),
        ("kubernetes", ["--cpu-target", "150"], "--cpu-target", "less than or equal to 100"),
        ("kubernetes", ["--schedule", "every minute"], "--schedule", "cron schedule"),
        (
            "kubernetes",
            ["--monitor", "watch", "--schedule", "*/5 * * * *"],
            "--schedule",
            "--monitor cronjob",
        ),
        ("kubernetes", ["--monitor", "often"], "--monitor", "often"),
        ("docker", ["--python", "2.7"], "--python", "not a supported Python version"),
    ],
)
def test_bad_options_are_usage_errors_naming_the_option(
    shared_project: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    options: list[str],
    option: str,
    reason: str,
) -> None:
    # In process (the real Typer app, without a new interpreter per case): fast.
    monkeypatch.chdir(shared_project)
    result = CliRunner().invoke(app, ["deploy-config", target, *options])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.replace("│", " ").split())
    assert option in message and reason in message, message
    assert not (shared_project / "deploy").exists()
    assert not (shared_project / "Dockerfile").exists()


def test_the_next_steps_quote_commands_that_parse(shared_project: Path) -> None:
    result = run_cli("deploy-config", "docker", "--image", "reg.example/h:2", cwd=shared_project)
    assert result.returncode == 0, result.stderr
    build = next(line for line in result.stdout.splitlines() if "docker build" in line)
    words = shlex.split(build)
    assert words[:4] == ["docker", "build", "-t", "reg.example/h:2"]
    assert Path(words[-1]) == shared_project and Path(words[5]).name == "Dockerfile"
