"""The ``shipyard`` command line: a thin shell over the Python API."""

from shipyard.cli.app import app, main

__all__ = ["app", "main"]
