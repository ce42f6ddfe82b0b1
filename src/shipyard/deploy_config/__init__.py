"""Deployment files for a project: a Docker image, and Kubernetes manifests.

``deploy_config`` reads the project's settings (shipyard.yaml and ``SHIPYARD_*``) and the
options, and returns the files to write; ``DeployFiles.write`` writes them.  No secret
value is ever written: the token, the database URL and cloud keys travel as environment
variables (``docker run -e``, or a Kubernetes Secret the manifests refer to by key).

>>> files = deploy_config(project, "kubernetes", image="registry.example/ames:1")  # doctest: +SKIP
>>> sorted(files.files)  # doctest: +SKIP
['kustomization.yaml', 'monitor.yaml', 'server.yaml', 'ui.yaml']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from shipyard.config import load_config
from shipyard.deploy_config.docker import docker_files, image_name
from shipyard.deploy_config.kubernetes import kubernetes_files
from shipyard.deploy_config.needs import project_needs, require_shared_stores
from shipyard.deploy_config.options import DockerOptions, KubernetesOptions
from shipyard.errors import ConfigError

if TYPE_CHECKING:
    from shipyard.project import Project

Target = Literal["docker", "kubernetes"]
TARGETS: tuple[Target, ...] = ("docker", "kubernetes")
DEFAULT_OUTPUT: dict[Target, str] = {"docker": ".", "kubernetes": "deploy/kubernetes"}

__all__ = ["DeployFiles", "DockerOptions", "KubernetesOptions", "deploy_config"]


@dataclass
class DeployFiles:
    """Files to write in ``folder`` (name -> text), and what a person should know."""

    folder: Path
    files: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)

    def write(self, *, force: bool = False) -> list[Path]:
        """Write the files; an existing one is replaced only with ``force``."""
        paths = [self.folder / name for name in self.files]
        existing = [str(path) for path in paths if path.exists()]
        if existing and not force:
            raise ConfigError(
                f"{', '.join(existing)} already exist(s); pass --force to replace, or "
                "choose another --output folder"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        for path, text in zip(paths, self.files.values(), strict=True):
            partial = path.with_name(path.name + ".partial")
            partial.write_text(text, encoding="utf-8")
            partial.replace(path)
        return paths


def deploy_config(
    project: Project, target: Target, *, output: Path | str | None = None, **options: Any
) -> DeployFiles:
    """The deployment files of ``project`` for ``target`` (docker or kubernetes).

    ``options`` are ``DockerOptions``' or ``KubernetesOptions``' fields (None: default);
    a wrong one raises ``InvalidOption``.  Kubernetes needs stores every pod can share
    (PostgreSQL and a bucket): an embedded SQLite file or a local artifact folder is
    refused with a ``ConfigError`` saying what to set.
    """
    if target not in TARGETS:
        raise ConfigError(f"unknown target {target!r}; choose docker or kubernetes")
    root = project.root
    folder = Path(output) if output is not None else root / DEFAULT_OUTPUT[target]
    if not folder.is_absolute():
        folder = Path.cwd() / folder
    file_config = load_config(root, environ={})
    if target == "docker":
        docker = DockerOptions.from_options(**options)
        needs = project_needs(root, project.config, dask=docker.dask, file_config=file_config)
        files = docker_files(root, folder, project.config, needs, docker)
        image = docker.image or image_name(project.config)
        steps = [
            f"docker build -t {image} -f {folder / 'Dockerfile'} {root}",
            f"docker run -p 8000:8000 -e SHIPYARD_API_TOKEN {image}",
        ]
        if needs.sqlite or needs.local_artifacts:
            steps.append(
                "the store is inside the container's .shipyard volume: run one container "
                "(or compose), or set PostgreSQL and s3:// to run several"
            )
        return DeployFiles(folder, files, list(needs.warnings), steps)
    kubernetes = KubernetesOptions.from_options(**options)
    needs = project_needs(root, project.config, dask=kubernetes.dask, file_config=file_config)
    require_shared_stores(needs, replicas=kubernetes.replicas)
    files = kubernetes_files(project.config, needs, kubernetes)
    steps = [
        "build and push the image: shipyard deploy-config docker, then docker build/push",
        "create the Secret named in the files' headers (its values never go in files)",
        f"kubectl apply -k {folder}",
    ]
    if "dask-cluster.yaml" in files:
        steps.insert(2, "install the Dask Kubernetes operator (helm, dask-kubernetes-operator)")
    return DeployFiles(folder, files, list(needs.warnings), steps)
