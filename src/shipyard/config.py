"""Project configuration: ``shipyard.yaml`` overridden by ``SHIPYARD_*`` variables.

One place holds every setting.  The file is validated by pydantic; a wrong field becomes a
``ConfigError`` that names the field and the reason.

>>> config = ProjectConfig(name="demo")
>>> config.pipeline.workers
2
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shipyard.errors import ConfigError

CONFIG_FILE = "shipyard.yaml"
STATE_DIR = ".shipyard"

# Environment variable -> dotted path of the setting it overrides.
ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "SHIPYARD_DB_URL": ("store", "database"),
    "SHIPYARD_ARTIFACTS_URL": ("store", "artifacts"),
    "SHIPYARD_WORKERS": ("pipeline", "workers"),
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreSettings(_Section):
    """Where metadata and artifacts live; relative paths are relative to the project."""

    database: str = Field(
        default=f"sqlite:///{STATE_DIR}/metadata.db",
        description="SQLAlchemy URL of the metadata database (sqlite or postgresql).",
    )
    artifacts: str = Field(
        default=f"{STATE_DIR}/artifacts",
        description="Folder or fsspec URL (s3://bucket/prefix) of the artifact store.",
    )


class PipelineSettings(_Section):
    """How the pipeline runner executes steps."""

    workers: int = Field(default=2, ge=1, le=256, description="Parallel step processes.")
    cache: bool = Field(default=True, description="Skip steps whose fingerprint is cached.")


class ProjectConfig(_Section):
    """The whole of ``shipyard.yaml``."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    store: StoreSettings = Field(default_factory=StoreSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)

    def to_yaml(self) -> str:
        """Render the configuration as the YAML a person would write."""
        data = self.model_dump(mode="json", exclude_none=True)
        return yaml.safe_dump(data, sort_keys=False)


def _format_validation_error(exc: ValidationError, source: str) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problems.append(f"field '{where}': {error['msg']}")
    return f"{source} is invalid: " + "; ".join(problems)


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for variable, path in ENV_OVERRIDES.items():
        if variable in environ and environ[variable] != "":
            section = data.setdefault(path[0], {})
            if not isinstance(section, dict):
                raise ConfigError(f"shipyard.yaml: '{path[0]}' must be a mapping")
            section[path[1]] = environ[variable]
    return data


def parse_config(
    text: str, *, source: str = CONFIG_FILE, environ: Mapping[str, str] | None = None
) -> ProjectConfig:
    """Parse YAML text into a validated ``ProjectConfig``, applying env overrides."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping of settings, not {type(data).__name__}")
    data = _apply_env(data, os.environ if environ is None else environ)
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from exc


def load_config(root: Path, *, environ: Mapping[str, str] | None = None) -> ProjectConfig:
    """Read ``shipyard.yaml`` from the project folder ``root``."""
    path = root / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_config(text, source=str(path), environ=environ)
