"""A model's automation level: how much it decides alone, changed at run time.

The level starts as ``shipyard.yaml``'s ``automation`` section; ``set`` records a new
one in the store with who, when and why, and running servers follow within a second,
as they follow deployments.  A level's target (``target_precision`` for classifiers,
``max_interval_width`` for regressors) becomes a threshold per model version through
the version's confidence model, fitted on its eval split at training time.

>>> automation = project.automation  # doctest: +SKIP
>>> automation.set("churn", "partial", target_precision=0.9)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, get_args

from shipyard.config import AutomationLevel, AutomationSettings
from shipyard.errors import InvalidRequest, did_you_mean
from shipyard.modeling.confidence import AutomationPlan
from shipyard.modeling.package import ModelPackage
from shipyard.registry import ModelRegistry, current_user
from shipyard.store import MetadataStore
from shipyard.store.records import AutomationEventRecord, AutomationRecord

__all__ = ["LEVELS", "Automation", "AutomationState"]

LEVELS: tuple[AutomationLevel, ...] = get_args(AutomationLevel)


@dataclass(frozen=True)
class AutomationState:
    """A model's level and targets now; ``revision`` 0 means ``shipyard.yaml``'s."""

    model: str
    level: AutomationLevel
    target_precision: float | None
    max_interval_width: float | None
    revision: int = 0

    def plan(self, package: ModelPackage) -> AutomationPlan | None:
        """What this level promises for ``package``: its threshold, the share of answers
        expected to be decided alone and their precision (None: no confidence model)."""
        confidence = package.confidence
        if confidence is None:
            return None
        if package.task == "classification":
            return confidence.plan(target_precision=self.target_precision)
        return confidence.plan(max_interval_width=self.max_interval_width)

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "level": self.level,
            "target_precision": self.target_precision,
            "max_interval_width": self.max_interval_width,
            "revision": self.revision,
        }


def _check_level(level: str) -> AutomationLevel:
    if level not in LEVELS:
        raise InvalidRequest(
            f"'{level}' is not an automation level; choose one of {', '.join(LEVELS)}"
            + did_you_mean(level, LEVELS),
            field="level",
        )
    return level


def _check_fraction(value: float | None, field: str) -> float | None:
    if value is not None and not (isinstance(value, int | float) and 0 < value < 1):
        raise InvalidRequest(f"{field} must be between 0 and 1, not {value!r}", field=field)
    return value


class Automation:
    """The automation level of each model of a project: read, set, history."""

    def __init__(
        self, store: MetadataStore, registry: ModelRegistry, settings: AutomationSettings
    ) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings

    def _state(self, model: str, record: AutomationRecord | None) -> AutomationState:
        if record is None:
            settings = self.settings
            return AutomationState(
                model, settings.level, settings.target_precision, settings.max_interval_width
            )
        return AutomationState(
            model, record.level, record.target_precision, record.max_interval_width,
            record.revision,
        )  # fmt: skip

    def state(self, model: str) -> AutomationState:
        """Model ``model``'s level now (``shipyard.yaml``'s until one is set)."""
        self.registry.versions(model)  # an unknown model is a ModelNotFound
        return self._state(model, self.store.automation.get(model))

    def states(self, models: list[str]) -> dict[str, AutomationState]:
        """The level of each of ``models``, read at once (the server's refresh)."""
        stored = {record.model: record for record in self.store.automation.levels()}
        return {model: self._state(model, stored.get(model)) for model in models}

    def set(
        self,
        model: str,
        level: str,
        *,
        target_precision: float | None = None,
        max_interval_width: float | None = None,
        reason: str = "",
        actor: str | None = None,
    ) -> AutomationState:
        """Move model ``model`` to ``level``; a target left out keeps the current one."""
        checked = _check_level(level)
        _check_fraction(target_precision, "target_precision")
        if max_interval_width is not None and not (
            isinstance(max_interval_width, int | float) and max_interval_width > 0
        ):
            raise InvalidRequest(
                f"max_interval_width must be a positive number, not {max_interval_width!r}",
                field="max_interval_width",
            )
        current = self.state(model)
        record = self.store.automation.set(
            model,
            level=checked,
            target_precision=(
                current.target_precision if target_precision is None else target_precision
            ),
            max_interval_width=(
                current.max_interval_width if max_interval_width is None else max_interval_width
            ),
            actor=actor or current_user(),
            reason=reason,
        )
        return self._state(model, record)

    def describe(self, model: str) -> dict[str, Any]:
        """The level, what it promises for the production version, and its history."""
        state = self.state(model)
        production = self.registry.find(model, "production")
        plan = None
        if production is not None:
            found = state.plan(self.registry.load(production).package)
            plan = None if found is None else {"version": production.version, **asdict(found)}
        return {
            **state.to_dict(),
            "plan": plan,
            "history": [
                {
                    "at": event.at.isoformat(),
                    "actor": event.actor,
                    "reason": event.reason,
                    "before": event.before,
                    "after": event.after,
                }
                for event in self.history(model)
            ],
        }

    def history(self, model: str) -> list[AutomationEventRecord]:
        """Every change of model ``model``'s level, oldest first."""
        self.registry.versions(model)
        return self.store.automation.history(model)
