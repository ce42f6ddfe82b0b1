"""``shipyard deploy-config docker|kubernetes``: deployment files written for the project
by ``shipyard.deploy_config``; a wrong option is a usage error (exit code 2)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from shipyard.cli.console import console, errors
from shipyard.cli.project import open_project
from shipyard.errors import InvalidOption

if TYPE_CHECKING:
    from shipyard.deploy_config import Target

deploy_config_app = typer.Typer(
    help="Write deployment files for this project: a Docker image, Kubernetes manifests.",
    no_args_is_help=True,
)


class MonitorMode(StrEnum):
    cronjob = "cronjob"
    watch = "watch"
    none = "none"


class ServiceType(StrEnum):
    ClusterIP = "ClusterIP"
    NodePort = "NodePort"
    LoadBalancer = "LoadBalancer"


Output = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Folder to write in (docker: the project; kubernetes: "
        "deploy/kubernetes in the project).",
        file_okay=False,
    ),
]
Force = Annotated[bool, typer.Option("--force", help="Replace files that exist.")]
Image = Annotated[
    str | None,
    typer.Option(help="Image name, e.g. registry.example/ames:1 (default: NAME:latest)."),
]
Dask = Annotated[
    bool | None,
    typer.Option(
        "--dask/--no-dask", help="Include Dask (default: when the pipeline executor is dask)."
    ),
]


def _write(target: Target, output: Path | None, force: bool, **options: Any) -> None:
    from shipyard.deploy_config import deploy_config

    with open_project() as project:
        try:
            files = deploy_config(project, target, output=output, **options)
        except InvalidOption as exc:
            raise typer.BadParameter(str(exc), param_hint=exc.option) from None
    for warning in files.warnings:
        errors.print(f"[bold yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    for path in files.write(force=force):
        console.print(f"[green]wrote[/] {escape(str(path))}", soft_wrap=True)
    console.print("next:")
    for step in files.next_steps:
        console.print(f"  {escape(step)}", soft_wrap=True)


@deploy_config_app.command()
def docker(
    output: Output = None,
    image: Image = None,
    python: Annotated[
        str | None, typer.Option(help="Python version of the base image (default: this one).")
    ] = None,
    compose: Annotated[
        bool, typer.Option("--compose/--no-compose", help="Also write compose.yaml.")
    ] = True,
    dask: Dask = None,
    force: Force = False,
) -> None:
    """A Dockerfile serving the project (non-root, health-checked), its .dockerignore,
    and a compose file running the server, the monitoring loop and the dashboard."""
    _write("docker", output, force, image=image, python=python, compose=compose, dask=dask)


@deploy_config_app.command()
def kubernetes(
    output: Output = None,
    image: Image = None,
    namespace: Annotated[str | None, typer.Option(help="Namespace (default: none set).")] = None,
    replicas: Annotated[int | None, typer.Option(help="Server replicas (default 2).")] = None,
    max_replicas: Annotated[
        int | None, typer.Option(help="Most replicas the autoscaler makes (default 3x).")
    ] = None,
    cpu_target: Annotated[
        int | None, typer.Option(help="Average CPU use the autoscaler aims for, in %.")
    ] = None,
    cpu: Annotated[str | None, typer.Option(help="CPU request per pod (500m).")] = None,
    memory: Annotated[str | None, typer.Option(help="Memory per pod (1Gi).")] = None,
    secret: Annotated[
        str | None, typer.Option(help="Name of the Secret holding URLs and the token.")
    ] = None,
    service_type: Annotated[
        ServiceType, typer.Option(help="How the server's Service is exposed.")
    ] = ServiceType.ClusterIP,
    monitor: Annotated[
        MonitorMode,
        typer.Option(help="The monitoring loop: a CronJob, a Deployment with --watch, or none."),
    ] = MonitorMode.cronjob,
    schedule: Annotated[
        str | None,
        typer.Option(help="The CronJob's schedule (default: monitoring.interval_seconds)."),
    ] = None,
    ui: Annotated[bool, typer.Option("--ui/--no-ui", help="Include the dashboard.")] = True,
    dask: Dask = None,
    dask_workers: Annotated[int | None, typer.Option(help="Dask workers (default 2).")] = None,
    dask_worker_memory: Annotated[
        str | None, typer.Option(help="Memory per Dask worker (2Gi).")
    ] = None,
    force: Force = False,
) -> None:
    """Manifests for the server (Deployment, Service, autoscaler), the monitoring loop,
    the dashboard and, with Dask, a DaskCluster. Needs PostgreSQL and a bucket: pods
    cannot share an SQLite file or a local folder."""
    _write(
        "kubernetes",
        output,
        force,
        image=image,
        namespace=namespace,
        replicas=replicas,
        max_replicas=max_replicas,
        cpu_target=cpu_target,
        cpu=cpu,
        memory=memory,
        secret=secret,
        service_type=service_type.value,
        monitor=monitor.value,
        schedule=schedule,
        ui=ui,
        dask=dask,
        dask_workers=dask_workers,
        dask_worker_memory=dask_worker_memory,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(deploy_config_app, name="deploy-config")
