"""The options of ``shipyard deploy-config``, validated before any file is written.

A wrong value is an ``InvalidOption`` naming the command-line option (``--max-replicas``),
which the CLI turns into a usage error (exit code 2).

>>> KubernetesOptions(replicas=3).hpa_max()
9
"""

from __future__ import annotations

import sys
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shipyard.errors import InvalidOption

# A container image reference: [registry[:port]/]path[:tag][@digest], lower-case path.
IMAGE_PATTERN = (
    r"^([a-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"
)
# A DNS-1123 label: what Kubernetes accepts as a namespace or a Secret's name.
DNS_LABEL = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
CPU_QUANTITY = r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$"
MEMORY_QUANTITY = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$"
CRON_FIELD = r"[0-9*/,-]+"
SCHEDULE_PATTERN = rf"^{CRON_FIELD}( {CRON_FIELD}){{4}}$"
PYTHON_VERSION = r"^3\.(1[1-9])$"

MonitorMode = Literal["cronjob", "watch", "none"]
ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]


def _running_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def from_options(cls, **given: Any) -> Self:
        """Validate the options given (None: the default); an ``InvalidOption`` names the
        first wrong one as the command line spells it."""
        try:
            return cls.model_validate({key: v for key, v in given.items() if v is not None})
        except ValidationError as exc:
            error = exc.errors()[0]
            field = str(error["loc"][0]) if error["loc"] else ""
            option = "--" + field.replace("_", "-") if field else "options"
            value = f" {error['input']!r}" if field and "input" in error else ""
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "string_pattern_mismatch":
                message = _PATTERN_HELP.get(field, message)
            raise InvalidOption(f"{option}{value}: {message}", option=option) from exc


_PATTERN_HELP = {
    "image": "not an image reference (registry/name:tag, lower-case)",
    "namespace": "not a Kubernetes name (lower-case letters, digits and '-', at most 63)",
    "secret": "not a Kubernetes name (lower-case letters, digits and '-', at most 63)",
    "cpu": "not a CPU quantity (500m, 1, 1.5)",
    "memory": "not a memory quantity (512Mi, 1Gi)",
    "dask_worker_memory": "not a memory quantity (512Mi, 1Gi)",
    "schedule": "not a cron schedule of five fields ('*/5 * * * *')",
    "python": "not a supported Python version (3.11 or later, e.g. 3.12)",
}


class DockerOptions(_Options):
    """What ``shipyard deploy-config docker`` writes besides what shipyard.yaml says."""

    image: str | None = Field(
        default=None, pattern=IMAGE_PATTERN, description="Image name for compose.yaml."
    )
    python: str = Field(default_factory=_running_python, pattern=PYTHON_VERSION)
    compose: bool = Field(default=True, description="Also write compose.yaml.")
    dask: bool | None = Field(
        default=None, description="Install the dask extra (default: the project's executor)."
    )


class KubernetesOptions(_Options):
    """What ``shipyard deploy-config kubernetes`` writes besides what shipyard.yaml says."""

    image: str | None = Field(default=None, pattern=IMAGE_PATTERN)
    namespace: str | None = Field(default=None, pattern=DNS_LABEL)
    replicas: int = Field(default=2, ge=1, le=1000)
    max_replicas: int | None = Field(default=None, ge=1, le=1000)
    cpu_target: int = Field(default=70, ge=1, le=100)
    cpu: str = Field(default="500m", pattern=CPU_QUANTITY)
    memory: str = Field(default="1Gi", pattern=MEMORY_QUANTITY)
    secret: str | None = Field(default=None, pattern=DNS_LABEL)
    service_type: ServiceType = "ClusterIP"
    monitor: MonitorMode = "cronjob"
    schedule: str | None = Field(default=None, pattern=SCHEDULE_PATTERN)
    ui: bool = True
    dask: bool | None = None
    dask_workers: int = Field(default=2, ge=1, le=1000)
    dask_worker_memory: str = Field(default="2Gi", pattern=MEMORY_QUANTITY)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # Raised as they are: pydantic wraps only ValueError, and these name their option.
        if self.max_replicas is not None and self.max_replicas < self.replicas:
            raise InvalidOption(
                f"--max-replicas {self.max_replicas} is below --replicas {self.replicas}: "
                "the autoscaler cannot scale under its minimum",
                option="--max-replicas",
            )
        if self.schedule is not None and self.monitor != "cronjob":
            raise InvalidOption(
                f"--schedule applies to --monitor cronjob, not --monitor {self.monitor}",
                option="--schedule",
            )
        return self

    def hpa_max(self) -> int:
        """The autoscaler's most replicas: ``max_replicas``, by default three times
        ``replicas``."""
        return self.max_replicas or self.replicas * 3
