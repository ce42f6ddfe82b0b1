"""The exceptions shipyard raises.

Every error a user can meet is a ``ShipyardError``; library exceptions (SQLAlchemy,
fsspec, pandas, the database drivers) are translated at the boundary and chained with
``raise ... from exc``.  Context travels as attributes, the message says what to do next.

    ShipyardError
    ├── ConfigError                 shipyard.yaml or SHIPYARD_* settings are invalid
    │   └── InvalidOption           a command's option is invalid (the CLI exits 2)
    ├── ProjectNotFound             no shipyard.yaml in this folder or above
    ├── StoreError                  the metadata database failed
    │   ├── StoreUnavailable        cannot connect / the schema cannot be migrated
    │   ├── StoreConflict           a write broke a uniqueness or integrity rule
    │   └── RecordNotFound          a run, execution or artifact id does not exist
    ├── ArtifactError               the artifact store failed
    │   ├── ArtifactNotFound        no artifact with that digest
    │   └── ArtifactCorrupted       stored bytes do not match their digest
    ├── PipelineError               a pipeline could not be built or run
    │   ├── PipelineValidationError the DAG is invalid (cycle, missing input, ...)
    │   ├── ComponentError          a component is defined wrongly
    │   │   └── ConformanceFailure  check_component found a broken contract (an AssertionError)
    │   └── StepFailed              a step raised; carries the step and its traceback
    ├── DataError                   a table cannot be read or does not fit its schema
    │   ├── SchemaMismatch          columns or types differ from the schema
    │   └── ValidationFailed        ExampleValidator found anomalies of severity error
    ├── RegistryError               the model registry refused an operation
    │   └── ModelNotFound           unknown model name, version or alias
    ├── DeploymentError             a deployment change was refused; nothing changed
    │   ├── DeploymentConflict      it conflicts with the deployment as it is now
    │   └── NoDeployment            the model has no deployment to change
    ├── ReviewConflict              a review item is held by another, or not in that state
    ├── MonitoringError             a version cannot be monitored (no reference to compare with)
    └── ServingError                the prediction server refused an operation
        ├── InvalidRequest          a request does not fit the model's inputs
        │   └── RequestTooLarge     a request body is over the size limit
        └── Unauthorized            a state-changing request lacks the API token
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import datetime
from typing import Any


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """`` (did you mean 'mean'?)`` for a value close to one of ``choices``, else ``""``.

    Case is ignored when comparing, so ``"Mean"`` suggests ``"mean"``.

    >>> did_you_mean("clasification", ["regression", "classification"])
    " (did you mean 'classification'?)"
    """
    by_folded = {choice.casefold(): choice for choice in choices}
    close = difflib.get_close_matches(str(value).casefold(), list(by_folded), n=1)
    return f" (did you mean {by_folded[close[0]]!r}?)" if close else ""


class ShipyardError(Exception):
    """Root of every error shipyard raises on purpose."""


class ConfigError(ShipyardError):
    """The project configuration is invalid."""


class InvalidOption(ConfigError):
    """An option given to a command (or its Python call) is invalid; ``option`` names it."""

    def __init__(self, message: str, *, option: str) -> None:
        super().__init__(message)
        self.option = option


class ProjectNotFound(ShipyardError):
    """No shipyard project was found where one was expected."""


class StoreError(ShipyardError):
    """The metadata store failed."""


class StoreUnavailable(StoreError):
    """The metadata database cannot be reached or migrated."""


class StoreConflict(StoreError):
    """A write broke an integrity rule of the metadata store."""


class RecordNotFound(StoreError):
    """A record asked for by id does not exist."""


class ArtifactError(ShipyardError):
    """The artifact store failed."""


class ArtifactNotFound(ArtifactError):
    """No artifact with the given digest is stored."""

    def __init__(self, message: str, *, digest: str) -> None:
        super().__init__(message)
        self.digest = digest


class ArtifactCorrupted(ArtifactError):
    """Stored bytes no longer match the digest they were stored under."""

    def __init__(self, message: str, *, digest: str, actual: str) -> None:
        super().__init__(message)
        self.digest = digest
        self.actual = actual


class PipelineError(ShipyardError):
    """A pipeline could not be built or run."""


class PipelineValidationError(PipelineError):
    """The pipeline's DAG is invalid; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class ComponentError(PipelineError):
    """A component is defined in a way the engine cannot run."""


class ConformanceFailure(ComponentError, AssertionError):
    """A component failed a check of ``shipyard.testing.check_component``.

    It is an ``AssertionError`` too, so that test runners report it as a failed test.
    """

    def __init__(self, message: str, *, check: str, component: str) -> None:
        super().__init__(f"{component} fails the {check!r} check: {message}")
        self.check = check
        self.component = component


class StepFailed(PipelineError):
    """A step raised an exception while it ran."""

    def __init__(self, message: str, *, step: str, traceback: str = "") -> None:
        super().__init__(message)
        self.step = step
        self.traceback = traceback


class DataError(ShipyardError):
    """A table cannot be read or does not fit what is expected of it."""


class SchemaMismatch(DataError):
    """Columns or types differ from the schema."""

    def __init__(self, message: str, *, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


class ValidationFailed(DataError):
    """Data validation found anomalies of severity ``error``."""

    def __init__(self, message: str, *, anomalies: list[Any]) -> None:
        super().__init__(message)
        self.anomalies = anomalies


class RegistryError(ShipyardError):
    """The model registry refused an operation."""


class ModelNotFound(RegistryError):
    """No model matches the given name, version or alias."""


class DeploymentError(ShipyardError):
    """A deployment change was refused (bad version, percent, strategy); nothing changed.

    ``field`` names the argument at fault, when one is.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DeploymentConflict(DeploymentError):
    """The change conflicts with the deployment as it is now (a candidate is already
    deployed, or the deployment changed since it was read)."""


class NoDeployment(DeploymentError):
    """The model has no deployment (or no candidate) for this change."""


class ReviewConflict(ShipyardError):
    """A review item cannot be acted on as asked: another reviewer holds it, the lease
    ended, or its status does not allow the action.  Nothing was changed.

    ``holder`` and ``until`` name the claim in the way, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        item_id: int,
        holder: str | None = None,
        until: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.item_id = item_id
        self.holder = holder
        self.until = until


class MonitoringError(ShipyardError):
    """A model version cannot be monitored; the message says what it lacks."""


class ServingError(ShipyardError):
    """The prediction server refused an operation."""


class InvalidRequest(ServingError):
    """A prediction request does not fit the model's inputs (``row``: which row, if known)."""

    def __init__(self, message: str, *, field: str | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.row = row


class RequestTooLarge(InvalidRequest):
    """A request body is larger than the server takes."""


class Unauthorized(ServingError):
    """A request that changes state came without the API token, or with a wrong one."""
