"""Monitoring: windows over the prediction log, compared with what the model learned from.

Each window of a model version's predictions (by time, ``1h``, or by count, ``5000``) is
summarised once with the pipeline's mergeable statistics and stored; it is then compared
with the version's reference (its training split's statistics and its eval split's
predictions) for data drift, schema skew and output drift, with the feedback for the
performance realised and, for classifiers, with the calibrated probabilities for an
estimate of it.  Alert rules turn window results into alerts (store, Prometheus, webhook);
``shipyard report`` draws them.

>>> result = project.monitor_pass()  # doctest: +SKIP
>>> [window.result["drifted"] for window in result.windows]  # doctest: +SKIP
"""

from shipyard.monitoring.monitor import ModelPass, Monitor, MonitorPass, window_dict
from shipyard.monitoring.reference import Reference, stored_reference
from shipyard.monitoring.rules import default_rules
from shipyard.monitoring.windows import WindowSpec

__all__ = [
    "ModelPass",
    "Monitor",
    "MonitorPass",
    "Reference",
    "WindowSpec",
    "default_rules",
    "stored_reference",
    "window_dict",
]
