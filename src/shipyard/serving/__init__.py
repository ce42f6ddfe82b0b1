"""Serving: the prediction server, its model catalog and batch prediction.

The prediction log the server writes to is a part of its own: ``shipyard.prediction_log``.
"""
