"""The models a server answers with, and how they follow the registry and deployments.

A ``ModelCatalog`` loads, for every registered model, the version its alias (by default
``production``) points at and, when the model has an active deployment, its candidate,
warmed the same way.  ``refresh`` polls the store; when something moved it loads what is
new first and then swaps the new routings in with one assignment, so a request that
already holds a version finishes on it and no request ever waits for a load.  Versions
already held are reused: promoting a candidate loads nothing.  ``choose`` is where a
request learns which version answers it and which answers a copy in shadow (``Routing``).

A request may also name a registered version (the Open Inference Protocol's
``/v2/models/{name}/versions/{version}/...``): the served and candidate versions answer
at once, any other is loaded for that request (``load_version``, the one load a request
waits for) and the last ``ASKED_VERSIONS`` of those are kept.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.deployments.split import takes_candidate
from shipyard.errors import ModelNotFound
from shipyard.modeling.package import ModelPackage
from shipyard.project import Project
from shipyard.review import AutomationState, Triage
from shipyard.store.records import DeploymentRecord, ModelVersionRecord

__all__ = [
    "ASKED_VERSIONS",
    "CANDIDATE_RETRY_SECONDS",
    "Choice",
    "ModelCatalog",
    "Routing",
    "ServedModel",
]

logger = logging.getLogger("shipyard.serving")


@dataclass(frozen=True)
class ServedModel:
    """One loaded model version and what the request path needs precomputed."""

    name: str
    version: int
    alias: str
    package: ModelPackage
    load_seconds: float
    required: frozenset[str]
    numeric_low: npt.NDArray[np.float64] = field(repr=False)
    numeric_high: npt.NDArray[np.float64] = field(repr=False)
    domains: tuple[tuple[str, frozenset[str]], ...] = field(default=(), repr=False)

    @classmethod
    def build(
        cls, name: str, version: int, alias: str, package: ModelPackage, load_seconds: float
    ) -> ServedModel:
        schema = package.schema
        inputs = set(package.input_columns)
        required = frozenset(c.name for c in schema.columns if c.required and c.name in inputs)
        transform = package.transform
        # Range bounds in the transform's scaled space: out-of-range values are counted
        # on the transformed block with two array comparisons.
        standard = transform.spec.scaling == "standard"
        low, high = [], []
        for column in transform.numeric_columns:
            center = transform.means[column] if standard else 0.0
            scale = transform.scales[column] if standard else 1.0
            expected = schema.column(column) if column in schema else None
            lower = expected.min if expected is not None and expected.min is not None else -math.inf
            upper = expected.max if expected is not None and expected.max is not None else math.inf
            low.append((lower - center) / scale)
            high.append((upper - center) / scale)
        domains = tuple(
            (column, frozenset(expected.domain))
            for column in transform.categorical_columns
            if column in schema and (expected := schema.column(column)).domain is not None
        )
        return cls(
            name=name,
            version=version,
            alias=alias,
            package=package,
            load_seconds=load_seconds,
            required=required,
            numeric_low=np.array(low, dtype=np.float64),
            numeric_high=np.array(high, dtype=np.float64),
            domains=domains,
        )

    def _outside(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_] | None:
        """Per row and numeric column, whether the value is outside the schema's range
        (None when none is)."""
        count = len(self.numeric_low)
        if count == 0:
            return None
        block = features[:, :count]
        outside = (block < self.numeric_low) | (block > self.numeric_high)
        return outside if outside.any() else None

    def out_of_range(self, features: npt.NDArray[np.float64]) -> dict[str, int]:
        """Per numeric column, how many values fall outside the schema's range."""
        outside = self._outside(features)
        if outside is None:
            return {}
        columns = self.package.transform.numeric_columns
        return {columns[i]: int(n) for i, n in enumerate(outside.sum(axis=0).tolist()) if n}

    def novelties(
        self, rows: Sequence[dict[str, Any]], features: npt.NDArray[np.float64]
    ) -> list[list[str]]:
        """Per row, its inputs unlike the training data: a number outside the schema's
        range, a category outside its domain (missing values are not novel)."""
        found: list[list[str]] = [[] for _ in rows]
        outside = self._outside(features)
        if outside is not None:
            columns = self.package.transform.numeric_columns
            for row, column in zip(*np.nonzero(outside), strict=True):
                found[row].append(f"{columns[column]} is outside the training range")
        for column, domain in self.domains:
            for row, values in enumerate(rows):
                value = values.get(column)
                if value is not None and str(value) not in domain:
                    found[row].append(f"{column}={value!r} was not seen in training")
        return found

    def metadata(self) -> dict[str, Any]:
        """The Open Inference Protocol's model metadata: inputs, outputs, parameters."""
        types = {"int": "INT64", "float": "FP64", "bool": "BOOL", "str": "BYTES"}
        inputs = [
            {"name": column, "datatype": types[kind], "shape": [-1],
             "parameters": {"required": column in self.required}}
            for column, kind in self.input_types().items()
        ]  # fmt: skip
        task = self.package.task
        outputs = [
            {
                "name": "predict",
                "datatype": "FP64" if task == "regression" else "BYTES",
                "shape": [-1],
            }
        ]
        if task == "classification":
            classes = len(self.package.classes or [])
            outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, classes]})
        return {
            "name": self.name,
            "versions": [str(self.version)],
            "platform": "shipyard",
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {"alias": self.alias or None, "task": task},
        }

    def output_names(self) -> tuple[str, ...]:
        """The outputs an answer holds (see ``metadata``)."""
        if self.package.task == "classification":
            return ("predict", "predict_proba")
        return ("predict",)

    def input_types(self) -> dict[str, str]:
        """Each input column's type in the schema (``int``, ``float``, ``bool``, ``str``)."""
        schema = self.package.schema
        return {
            column: schema.column(column).type if column in schema else "str"
            for column in self.package.input_columns
        }


CANDIDATE = "candidate"  # the alias a candidate version is served under
CANDIDATE_RETRY_SECONDS = 30.0  # a candidate that failed to load is tried again after this
ASKED_VERSIONS = 2  # versions neither served nor candidates, kept for requests naming them


@dataclass(frozen=True, slots=True)
class Choice:
    """Who answers one request: ``served`` on ``arm`` (``primary`` or ``candidate``) of
    deployment ``deployment`` (None: the model has none), and, when ``shadow`` is set,
    the version that answers a copy of it that is logged but never returned, on arm
    ``shadow_arm`` (``primary.shadow`` or ``candidate.shadow``)."""

    served: ServedModel
    arm: str
    deployment: int | None = None
    shadow: ServedModel | None = None
    shadow_arm: str = ""
    triage: Triage | None = None
    """How ``served`` triages its answers (None: every answer is a decision)."""


class Routing:
    """How one model's requests are split between its versions now.

    - no deployment, or a blue-green one: one version answers everything (the ``live``
      arm of a blue-green deployment);
    - ``canary``: the candidate answers ``percent``% of the requests, and the primary
      answers those same requests in shadow, so that the arms can be compared on them;
    - ``shadow``: the primary answers everything, the candidate a copy of ``percent``%.

    With a sticky key the share is taken by key (see ``takes_candidate``): the key is the
    value of the request header of that name (case-insensitive), else of the field of
    that name in the request's first row, as text.  A request is one choice: all its
    rows meet the same arm.  Without a key (or when the request has none) the choice is
    random.  A candidate that is not loaded leaves the primary answering everything.

    Each arm triages its answers at the model's automation level (``Triage``).
    """

    __slots__ = (
        "_field", "_fixed", "_header", "_plain", "_share", "_taken", "automation", "candidate",
        "deployment", "primary",
    )  # fmt: skip

    def __init__(
        self,
        primary: ServedModel,
        candidate: ServedModel | None,
        deployment: DeploymentRecord | None,
        automation: AutomationState | None = None,
        *,
        double_label_share: float = 0.0,
    ) -> None:
        self.primary = primary
        self.candidate = candidate
        self.deployment = deployment
        self.automation = automation
        self._share = double_label_share
        deployment_id = None if deployment is None else deployment.id
        triage = self._triage
        primary_triage = triage(primary)
        self._plain = Choice(primary, "primary", deployment_id, triage=primary_triage)
        self._fixed: Choice | None = self._plain
        self._taken = self._plain
        self._header = b""
        self._field = ""
        if deployment is None or candidate is None:
            return
        if deployment.sticky_key:
            self._field = deployment.sticky_key
            self._header = deployment.sticky_key.strip().lower().encode("latin-1", "replace")
        if deployment.strategy == "blue-green":
            if deployment.live == "candidate":
                self._fixed = Choice(
                    candidate, "candidate", deployment_id, triage=triage(candidate)
                )
        elif deployment.strategy == "canary":
            self._fixed = None
            self._taken = Choice(
                candidate, "candidate", deployment_id, primary, "primary.shadow",
                triage=triage(candidate),
            )  # fmt: skip
        else:  # shadow
            self._fixed = None
            self._taken = Choice(
                primary, "primary", deployment_id, candidate, "candidate.shadow",
                triage=primary_triage,
            )  # fmt: skip

    def _triage(self, served: ServedModel) -> Triage | None:
        automation = self.automation
        if automation is None or automation.level == "full":
            return None
        return Triage(
            automation, served.name, served.version, served.package,
            double_label_share=self._share,
        )  # fmt: skip

    def pinned(self, served: ServedModel) -> Choice:
        """The choice for a request that names ``served``'s version: it answers alone, on
        its arm (``candidate`` for the deployment's candidate, else ``primary``), outside
        the deployment's split and its counts, triaged at the model's automation level."""
        arm = "candidate" if served is self.candidate else "primary"
        for choice in (self._plain, self._taken, self._fixed):
            if choice is not None and choice.served is served:  # its triage is made
                return Choice(served, arm, triage=choice.triage)
        return Choice(served, arm, triage=self._triage(served))

    def same_as(self, other: Routing) -> bool:
        """Whether ``other`` routes as this one does (then this one is kept)."""
        mine, theirs = self.deployment, other.deployment
        return (
            self.primary is other.primary
            and self.candidate is other.candidate
            and self.automation == other.automation
            and (mine.revision if mine else None, mine.id if mine else None)
            == (theirs.revision if theirs else None, theirs.id if theirs else None)
        )

    def choose(self, rows: list[dict[str, Any]], headers: Sequence[tuple[bytes, bytes]]) -> Choice:
        """The choice for one request of ``rows`` with ``headers`` (ASGI's, lowercase)."""
        fixed = self._fixed
        if fixed is not None:
            return fixed
        assert self.deployment is not None
        key = self.sticky_value(rows, headers) if self._header else None
        return self._taken if takes_candidate(self.deployment.percent, key) else self._plain

    def sticky_value(
        self, rows: list[dict[str, Any]], headers: Sequence[tuple[bytes, bytes]]
    ) -> str | None:
        """The request's sticky key: its header, else its first row's field, else None."""
        wanted = self._header
        for header, text in headers:
            if header == wanted:
                return text.decode("latin-1")
        value = rows[0].get(self._field) if rows else None
        if value is None:
            return None
        return value if isinstance(value, str) else str(value)

    def describe(self) -> dict[str, Any]:
        """The deployment this routing follows, as ``/v2`` shows it."""
        deployment = self.deployment
        assert deployment is not None
        return {
            "id": deployment.id,
            "strategy": deployment.strategy,
            "candidate": deployment.candidate_version,
            "percent": deployment.percent,
            "live": deployment.live,
            "sticky_key": deployment.sticky_key,
            "candidate_loaded": self.candidate is not None,
        }


class ModelCatalog:
    """The versions a server answers with, kept in step with the registry and the
    deployments."""

    def __init__(self, project: Project, *, alias: str = "production") -> None:
        self.project = project
        self.alias = alias
        self._models: dict[str, ServedModel] = {}
        self._routings: dict[str, Routing] = {}
        self._loaded: dict[tuple[str, int], ServedModel] = {}  # every version held, pinned
        self._records: dict[tuple[str, int], ModelVersionRecord] = {}
        self._failed: dict[tuple[str, int], float] = {}  # candidates that did not load: when
        self._asked: dict[tuple[str, int], ServedModel] = {}  # other versions asked for
        self._asking = threading.Lock()
        self.ready = False
        self.default_name = project.config.model_name if project.config.data else None

    @property
    def models(self) -> dict[str, ServedModel]:
        """The primary version of every served model; a new dict when one changes."""
        return self._models

    @property
    def routings(self) -> dict[str, Routing]:
        return self._routings

    def _targets(self) -> dict[str, int]:
        return {
            model.name: model.aliases[self.alias]
            for model in self.project.registry.models()
            if self.alias in model.aliases
        }

    def _deployments(self) -> dict[str, DeploymentRecord]:
        # Deployments are rollouts beside production: a server of another alias has none.
        if self.alias != "production":
            return {}
        return {record.model: record for record in self.project.store.deployments.active()}

    def _load(self, name: str, version: int, alias: str) -> ServedModel:
        started = time.perf_counter()
        # Pinned: the registry's cache never drops a version while it is served here.
        loaded = self.project.registry.load(f"{name}:{version}", pin=True)
        try:
            served = _warmed(name, version, alias, loaded.package, started)
        except BaseException:
            self.project.registry.unpin(loaded.record)
            raise
        self._records[name, version] = loaded.record
        return served

    def _unpin(self, served: ServedModel) -> None:
        record = self._records.pop((served.name, served.version), None)
        if record is not None:
            self.project.registry.unpin(record)

    def _take(
        self,
        name: str,
        version: int,
        alias: str,
        held: dict[tuple[str, int], ServedModel],
        loaded: list[ServedModel],
    ) -> ServedModel:
        """The version from what is held (a promoted candidate is not loaded again),
        else loaded now."""
        key = (name, version)
        served = held.get(key) or self._loaded.get(key)
        if served is None:
            served = self._load(name, version, alias)
            loaded.append(served)
        elif served.alias != alias:
            served = replace(served, alias=alias)
        held[key] = served
        return served

    def _take_candidate(
        self,
        deployment: DeploymentRecord,
        held: dict[tuple[str, int], ServedModel],
        loaded: list[ServedModel],
    ) -> ServedModel | None:
        key = (deployment.model, deployment.candidate_version)
        failed = self._failed.get(key)
        if failed is not None and time.monotonic() - failed < CANDIDATE_RETRY_SECONDS:
            return None
        try:
            served = self._take(*key, CANDIDATE, held, loaded)
        except Exception as exc:  # a bad candidate must not stop its primary
            self._failed[key] = time.monotonic()
            logger.error(
                "could not load candidate %s:%s of deployment %s: %s; the primary version "
                "answers alone, and loading is tried again in %.0f s",
                *key, deployment.id, exc, CANDIDATE_RETRY_SECONDS,
            )  # fmt: skip
            return None
        self._failed.pop(key, None)
        return served

    def refresh(self) -> list[ServedModel]:
        """Load what the aliases and active deployments point at now; returns the newly
        loaded versions.  A candidate that fails to load is logged and left out (its
        primary answers everything), and tried again after ``CANDIDATE_RETRY_SECONDS``."""
        targets = self._targets()
        deployments = self._deployments()
        levels = self.project.automation.states(list(targets))
        held: dict[tuple[str, int], ServedModel] = {}
        loaded: list[ServedModel] = []
        try:
            primaries = {
                name: self._take(name, version, self.alias, held, loaded)
                for name, version in targets.items()
            }
            candidates = {
                name: self._take_candidate(deployment, held, loaded)
                for name, deployment in deployments.items()
                if name in primaries and deployment.candidate_version != primaries[name].version
            }
        except BaseException:
            for served in loaded:  # none of them will be served
                self._unpin(served)
            raise
        current = self._models
        if set(primaries) != set(current) or any(
            current[name] is not served for name, served in primaries.items()
        ):
            self._models = primaries
        old_routings = self._routings
        routings = {}
        for name, primary in primaries.items():
            routing = Routing(
                primary, candidates.get(name), deployments.get(name), levels.get(name),
                double_label_share=self.project.config.review.double_label_share,
            )  # fmt: skip
            old = old_routings.get(name)
            routings[name] = old if old is not None and old.same_as(routing) else routing
        if routings != old_routings:
            self._routings = routings  # one assignment: requests see the old or the new
        old_loaded, self._loaded = self._loaded, held
        for key, served in old_loaded.items():
            if key not in held:
                self._unpin(served)
        self.ready = True
        return loaded

    def routing(self, name: str | None) -> Routing:
        """How requests for model ``name`` (None: the default) are answered now."""
        routings = self._routings
        if name is None:
            if self.default_name is not None and self.default_name in routings:
                return routings[self.default_name]
            if len(routings) == 1:
                return next(iter(routings.values()))
            served = ", ".join(sorted(routings)) or "none"
            raise ModelNotFound(
                f"no default model to answer /predict (served: {served}); use "
                "POST /v2/models/{name}/predict"
            )
        routing = routings.get(name)
        if routing is None:
            served = ", ".join(sorted(routings)) or "none"
            raise ModelNotFound(
                f"model '{name}' is not served here (no '{self.alias}' alias); served: {served}"
            )
        return routing

    def held_version(self, name: str, version: str) -> ServedModel | None:
        """Model ``name`` at ``version`` when it is loaded now (served, a candidate, or
        asked for lately), else None (``load_version`` loads it).  ``ModelNotFound`` if
        the model is not served here or ``version`` is not a version number."""
        routing = self.routing(name)
        number = _version_number(name, version)
        for served in (routing.primary, routing.candidate):
            if served is not None and served.version == number:
                return served
        return self._asked.get((name, number))

    def load_version(self, name: str, version: str) -> ServedModel:
        """Model ``name`` at registered ``version``, loaded now if it is not held (this
        blocks: call it in a thread).  The last ``ASKED_VERSIONS`` versions loaded so are
        kept; ``ModelNotFound`` names the registered versions when it has no such one."""
        with self._asking:  # one load at a time: requests for the same version share it
            held = self.held_version(name, version)
            if held is not None:
                return held
            number = int(version)
            started = time.perf_counter()
            try:
                package = self.project.registry.load(f"{name}:{number}").package
            except ModelNotFound as exc:
                registered = ", ".join(
                    str(record.version) for record in reversed(self.project.registry.versions(name))
                )
                raise ModelNotFound(
                    f"model '{name}' has no version {number} (registered: {registered}); "
                    f"see GET /v2/models/{name}"
                ) from exc
            served = _warmed(name, number, "", package, started)
            asked = {**self._asked, (name, number): served}
            while len(asked) > ASKED_VERSIONS:
                del asked[next(iter(asked))]
            self._asked = asked  # one assignment: readers see the old or the new
            return served

    def route(self, name: str | None) -> ServedModel:
        """The primary version of model ``name`` (None: the default), which describes it."""
        return self.routing(name).primary

    def choose(
        self,
        name: str | None,
        rows: list[dict[str, Any]],
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> Choice:
        """Who answers this request for model ``name`` (None: the default), and who
        answers a copy of it in shadow; see ``Routing``."""
        return self.routing(name).choose(rows, headers)

    def describe(self) -> list[dict[str, Any]]:
        described = []
        for name, served in self._models.items():
            entry: dict[str, Any] = {"name": name, "version": served.version, "alias": served.alias}
            routing = self._routings.get(name)
            if routing is not None and routing.deployment is not None:
                entry["deployment"] = routing.describe()
            described.append(entry)
        return described


def _warmed(
    name: str, version: int, alias: str, package: ModelPackage, started: float
) -> ServedModel:
    package.predict_rows([{}])  # build the row plans and warm the predictor now
    return ServedModel.build(name, version, alias, package, time.perf_counter() - started)


def _version_number(name: str, version: str) -> int:
    if not (version.isascii() and version.isdigit() and len(version) <= 9):
        raise ModelNotFound(
            f"model '{name}' has no version {version!r}: versions are numbers, "
            f"see GET /v2/models/{name}"
        )
    return int(version)
