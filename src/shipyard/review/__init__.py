"""Human review: automation levels, triage of answers, the review queue, label quality."""

from shipyard.review.automation import LEVELS, Automation, AutomationState
from shipyard.review.labels import LabelRules, checked_label
from shipyard.review.queue import ReviewQueue, ReviewView
from shipyard.review.stats import ReviewStats, review_stats
from shipyard.review.triage import Triage, Verdicts

__all__ = [
    "LEVELS",
    "Automation",
    "AutomationState",
    "LabelRules",
    "ReviewQueue",
    "ReviewStats",
    "ReviewView",
    "Triage",
    "Verdicts",
    "checked_label",
    "review_stats",
]
