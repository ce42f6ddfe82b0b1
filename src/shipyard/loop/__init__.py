"""The closed loop: a model retrains itself when its policy says so, is judged on recent
truth, and rolls out as an analysed canary — promoted or rolled back without a person.

>>> project.monitor_pass().loop  # doctest: +SKIP
"""

from shipyard.loop.gate import GateResult, judge, split_fresh
from shipyard.loop.retraining import RetrainingLoop
from shipyard.loop.triggers import Trigger, due_trigger

__all__ = ["GateResult", "RetrainingLoop", "Trigger", "due_trigger", "judge", "split_fresh"]
