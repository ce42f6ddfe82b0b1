"""What a project needs wherever it runs: extras to install, files to ship, shared stores,
and the settings that are secrets and so travel as environment variables, never in files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shipyard.config import CONFIG_FILE, STATE_DIR, ProjectConfig
from shipyard.errors import ConfigError

#: The Secret's keys and the variables they become; every key is optional, so a cluster
#: that grants S3 access by its own means (a service account) leaves the AWS keys out.
SECRET_KEYS: dict[str, str] = {
    "database-url": "SHIPYARD_DB_URL",
    "artifacts-url": "SHIPYARD_ARTIFACTS_URL",
    "api-token": "SHIPYARD_API_TOKEN",
}
S3_SECRET_KEYS: dict[str, str] = {
    "aws-access-key-id": "AWS_ACCESS_KEY_ID",
    "aws-secret-access-key": "AWS_SECRET_ACCESS_KEY",
    "aws-endpoint-url": "AWS_ENDPOINT_URL",
}


def is_sqlite(database: str) -> bool:
    return database.split(":", 1)[0].split("+", 1)[0].lower() == "sqlite"


def is_local_folder(artifacts: str) -> bool:
    protocol = artifacts.split("://", 1)[0].lower() if "://" in artifacts else "file"
    return protocol in {"file", "local"}


def uses_dask(config: ProjectConfig) -> bool:
    """Whether the project's pipeline runs on Dask (``pipeline.executor: dask``)."""
    return config.pipeline.executor == "dask"


@dataclass(frozen=True)
class ProjectNeeds:
    """What the deployment files of one project must provide."""

    name: str
    extras: tuple[str, ...]
    files: tuple[str, ...]
    sqlite: bool
    local_artifacts: bool
    s3: bool
    dask: bool
    warnings: tuple[str, ...]
    #: Secret keys the pods cannot do without: shipyard.yaml alone names an SQLite file or
    #: a local folder, so the shared store's URL must come from the Secret.
    required_keys: frozenset[str] = frozenset()

    @property
    def secret_keys(self) -> dict[str, str]:
        return SECRET_KEYS | (S3_SECRET_KEYS if self.s3 else {})


def project_needs(
    root: Path,
    config: ProjectConfig,
    *,
    dask: bool | None = None,
    file_config: ProjectConfig | None = None,
) -> ProjectNeeds:
    """What deploying the project in ``root`` needs.

    ``config`` is the configuration in effect (``SHIPYARD_*`` applied); ``file_config``,
    when given, is ``shipyard.yaml`` alone: a secret written there would be copied into
    the image, which deserves a warning.
    """
    database, artifacts = config.store.database, config.store.artifacts
    s3 = artifacts.lower().startswith("s3://")
    with_dask = uses_dask(config) if dask is None else dask
    extras = []
    if database.lower().startswith("postgres"):
        extras.append("postgres")
    if s3:
        extras.append("s3")
    if with_dask:
        extras.append("dask")
    estimator = (config.model.estimator or "").lower()
    extras += [name for name in ("lightgbm", "xgboost") if estimator.startswith(name)]
    return ProjectNeeds(
        name=config.name,
        extras=tuple(extras),
        files=tuple(_project_files(root, config)),
        sqlite=is_sqlite(database),
        local_artifacts=is_local_folder(artifacts),
        s3=s3,
        dask=with_dask,
        warnings=tuple(_secrets_in_file(file_config)) if file_config is not None else (),
        required_keys=frozenset(_required_keys(file_config)) if file_config else frozenset(),
    )


def require_shared_stores(needs: ProjectNeeds, *, replicas: int) -> None:
    """Refuse a store that several pods cannot share, saying what to set instead.

    The refusal does not depend on ``replicas``: the monitor and the dashboard run in
    pods of their own, so even one server replica shares the store with them.
    """
    problems = []
    if needs.sqlite:
        problems.append(
            "store.database is the embedded SQLite file, which only processes on one machine "
            "can open: set store.database in shipyard.yaml (or SHIPYARD_DB_URL) to a "
            "PostgreSQL URL such as postgresql://shipyard@db.example:5432/shipyard"
        )
    if needs.local_artifacts:
        problems.append(
            "store.artifacts is a local folder, which each pod would have alone: set "
            "store.artifacts (or SHIPYARD_ARTIFACTS_URL) to a bucket such as "
            "s3://bucket/shipyard"
        )
    if problems:
        raise ConfigError(
            f"cannot deploy {needs.name} to Kubernetes: {replicas} server replica(s), the "
            "monitor and the dashboard run in separate pods that share one store; "
            + "; ".join(problems)
            + ", then run this command again"
        )


def _project_files(root: Path, config: ProjectConfig) -> list[str]:
    """The project's own files the image needs, relative to ``root``, that exist."""
    candidates = [CONFIG_FILE, "requirements.txt"]
    if config.data is not None:
        candidates += [config.data.source, config.data.schema_file or ""]
    candidates.append(config.review.guidelines)
    if config.transform.derive:
        module = config.transform.derive.split(":", 1)[0].split(".", 1)[0]
        candidates += [f"{module}.py", module]
    found = []
    for name in candidates:
        if not name or "://" in name or Path(name).is_absolute():
            continue
        path = (root / name).resolve()
        inside = path.is_relative_to(root.resolve()) and STATE_DIR not in path.parts
        if inside and path.exists():
            relative = path.relative_to(root.resolve()).as_posix()
            if relative not in found:
                found.append(relative)
    return found


def _required_keys(file_config: ProjectConfig) -> list[str]:
    required = []
    if is_sqlite(file_config.store.database):
        required.append("database-url")
    if is_local_folder(file_config.store.artifacts):
        required.append("artifacts-url")
    return required


def _secrets_in_file(file_config: ProjectConfig) -> list[str]:
    warnings = []
    if file_config.serve.token is not None:
        warnings.append(
            "shipyard.yaml holds serve.token, and the image copies shipyard.yaml: remove it "
            "from the file and give it as SHIPYARD_API_TOKEN"
        )
    database = file_config.store.database
    if "@" in database and ":" in database.split("://", 1)[-1].split("@", 1)[0]:
        warnings.append(
            "shipyard.yaml's store.database holds a password, and the image copies "
            "shipyard.yaml: remove it from the file and give the URL as SHIPYARD_DB_URL"
        )
    return warnings
