"""Deployments: a candidate version served beside a model's production version as a
shadow, a canary or blue-green; promotion, rollback and their history; the arms
compared on the same traffic, and the automatic canary analysis that moves a canary
step by step, promotes it or rolls it back."""

from shipyard.deployments.control import STRATEGIES, Deployments
from shipyard.deployments.split import key_point, takes_candidate

__all__ = ["STRATEGIES", "Deployments", "key_point", "takes_candidate"]
