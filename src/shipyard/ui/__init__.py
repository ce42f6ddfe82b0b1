"""The web dashboard (``shipyard ui``): every page a view over the project's API."""

from shipyard.ui.app import create_ui, serve_ui, ui_app

__all__ = ["create_ui", "serve_ui", "ui_app"]
