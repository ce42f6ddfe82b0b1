"""A Dockerfile for the prediction server, its ignore file, and a compose file.

The build context is the project folder: the image installs shipyard with the extras the
project's stores need, copies the project's own files (shipyard.yaml, the data, the
schema, guidelines) and serves as an unprivileged user.  Nothing secret is written: the
API token and the database URL reach the container as environment variables.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from shipyard import __version__
from shipyard.config import STATE_DIR, ProjectConfig
from shipyard.deploy_config._yaml import dump_yaml
from shipyard.deploy_config.needs import ProjectNeeds
from shipyard.deploy_config.options import DockerOptions

APP_DIR = "/app"
SERVER_PORT = 8000
UI_PORT = 8080
USER_ID = 10001
READY_PATH = "/v2/health/ready"

IGNORED = [
    f"{STATE_DIR}/",
    ".venv/",
    "venv/",
    ".git/",
    "**/__pycache__/",
    "**/*.pyc",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".env",
    "*.env",
]


def image_name(config: ProjectConfig) -> str:
    """The image name used when none is given: the project's name, lower-case."""
    name = "".join(c if c.isalnum() or c in "._-" else "-" for c in config.name.lower())
    return f"{name.strip('._-') or 'shipyard'}:latest"


def dockerfile(needs: ProjectNeeds, options: DockerOptions) -> str:
    """The Dockerfile's text."""
    extras = f"[{','.join(needs.extras)}]" if needs.extras else ""
    probe = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{SERVER_PORT}{READY_PATH}', timeout=4)"
    )
    lines = [
        f"# Written by `shipyard deploy-config docker` (shipyard {__version__}).",
        "# Build from the project folder:  docker build -t IMAGE -f <this file> .",
        "# Secrets are never baked in: pass SHIPYARD_API_TOKEN, SHIPYARD_DB_URL (and the",
        "# AWS_* variables for s3://) with `docker run -e` or an env file.",
        f"FROM python:{options.python}-slim",
        "",
        "ENV PYTHONDONTWRITEBYTECODE=1 \\",
        "    PYTHONUNBUFFERED=1 \\",
        "    PIP_NO_CACHE_DIR=1 \\",
        "    PIP_DISABLE_PIP_VERSION_CHECK=1 \\",
        f"    PYTHONPATH={APP_DIR}",
        "",
        "# Another source of shipyard (a wheel, a git URL): docker build --build-arg",
        '# SHIPYARD_REQUIREMENT="shipyard[...] @ https://..."',
        f'ARG SHIPYARD_REQUIREMENT="shipyard{extras}=={__version__}"',
        'RUN pip install "${SHIPYARD_REQUIREMENT}"',
        "",
        f"RUN useradd --create-home --uid {USER_ID} --user-group shipyard",
        f"WORKDIR {APP_DIR}",
    ]
    if "requirements.txt" in needs.files:
        lines += [
            "COPY requirements.txt ./",
            "RUN pip install -r requirements.txt",
        ]
    lines.append("# The project's own files; add a COPY line for any other file it reads.")
    for name in needs.files:
        if name != "requirements.txt":
            lines.append(f"COPY --chown={USER_ID}:{USER_ID} {name} ./{name}")
    lines += [
        f"RUN mkdir -p {APP_DIR}/{STATE_DIR} && chown {USER_ID}:{USER_ID} {APP_DIR}/{STATE_DIR}",
    ]
    if needs.sqlite or needs.local_artifacts:
        lines += [
            "# The metadata database and/or artifacts live here: keep them on a volume.",
            f"VOLUME {APP_DIR}/{STATE_DIR}",
        ]
    lines += [
        f"USER {USER_ID}",
        "",
        f"EXPOSE {SERVER_PORT}",
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \\",
        f"    CMD {json.dumps(['python', '-c', probe])}",
        "CMD " + json.dumps(["shipyard", "serve", "--host", "0.0.0.0", "--port", str(SERVER_PORT)]),
    ]
    return "\n".join(lines) + "\n"


def dockerignore() -> str:
    header = "# Written by `shipyard deploy-config docker`: kept out of the image.\n"
    return header + "\n".join(IGNORED) + "\n"


def compose(
    config: ProjectConfig,
    needs: ProjectNeeds,
    options: DockerOptions,
    *,
    context: str,
    dockerfile_path: str,
) -> str:
    """A compose file: the server, the monitoring loop (``--watch``) and the dashboard,
    sharing the ``.shipyard`` volume (one machine: SQLite is fine here).  ``context`` is
    the project folder and ``dockerfile_path`` the Dockerfile, seen from this file."""
    image = options.image or image_name(config)
    environment = {
        variable: f"${{{variable}:-}}"
        for variable in ("SHIPYARD_API_TOKEN", "SHIPYARD_DB_URL", "SHIPYARD_ARTIFACTS_URL")
    }
    if needs.s3:
        environment |= {
            variable: f"${{{variable}:-}}"
            for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL")
        }
    # Every service builds (from the layer cache): a local tag is never pulled.
    common = {
        "build": {"context": context, "dockerfile": dockerfile_path},
        "image": image,
        "environment": environment,
        "volumes": [f"shipyard-state:{APP_DIR}/{STATE_DIR}"],
        "restart": "unless-stopped",
    }
    services = {
        "server": {
            **common,
            "ports": [f"{SERVER_PORT}:{SERVER_PORT}"],
        },
        "monitor": {
            **common,
            "command": ["shipyard", "monitor", "--watch", "--format", "json"],
            "depends_on": ["server"],
        },
        "ui": {
            **common,
            "command": ["shipyard", "ui", "--host", "0.0.0.0", "--port", str(UI_PORT)],
            "ports": [f"{UI_PORT}:{UI_PORT}"],
            "depends_on": ["server"],
        },
    }
    header = (
        "# Written by `shipyard deploy-config docker`. Secrets come from your shell or a\n"
        "# .env file beside this one (SHIPYARD_API_TOKEN=...), never from this file.\n"
        "# Train once inside:  docker compose run --rm server shipyard run\n"
    )
    body = dump_yaml({"services": services, "volumes": {"shipyard-state": {}}})
    return header + body


def docker_files(
    root: Path, output: Path, config: ProjectConfig, needs: ProjectNeeds, options: DockerOptions
) -> dict[str, str]:
    """The files to write in ``output``, by name: Dockerfile, its ignore file, compose.yaml.

    When ``output`` is not the project folder, the ignore file is ``Dockerfile.dockerignore``
    (BuildKit reads it beside the Dockerfile) since the build context stays the project.
    """
    root, output = root.resolve(), output.resolve()
    files = {"Dockerfile": dockerfile(needs, options)}
    at_root = output == root
    files[".dockerignore" if at_root else "Dockerfile.dockerignore"] = dockerignore()
    if options.compose:
        context = Path(os.path.relpath(root, output)).as_posix()
        from_context = Path(os.path.relpath(output / "Dockerfile", root)).as_posix()
        files["compose.yaml"] = compose(
            config, needs, options, context=context, dockerfile_path=from_context
        )
    return files
