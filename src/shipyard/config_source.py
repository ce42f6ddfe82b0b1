"""Where a project's settings come from, and which of them were already validated.

The settings come from one place: ``shipyard.yaml``, overridden by the ``SHIPYARD_*``
variables of ``ENV_OVERRIDES``; ``shipyard.config`` validates them with pydantic.  That
takes longer (pydantic, YAML and every section's schema) than a command that only reads
the store may take in all.  So each validation leaves a note in ``.shipyard/``: the
digest of what it validated (the file's text, the variables, the rules' source) and
where the project's metadata and artifacts live.  A reader whose sources have the same
digest takes the store's location from the note (``validated_location``); any change to
the file or to a variable makes it validate again.  The note never holds ``SHIPYARD_DB_URL``, which
may carry a password a user keeps out of files: that one is read from the environment.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import ProjectNotFound

CONFIG_FILE = "shipyard.yaml"
STATE_DIR = ".shipyard"
VALIDATED_NOTE = "validated-config.json"
DATABASE_VARIABLE = "SHIPYARD_DB_URL"

# Environment variable -> dotted path of the setting it overrides.
ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    DATABASE_VARIABLE: ("store", "database"),
    "SHIPYARD_ARTIFACTS_URL": ("store", "artifacts"),
    "SHIPYARD_WORKERS": ("pipeline", "workers"),
    "SHIPYARD_EXECUTOR": ("pipeline", "executor"),
    "SHIPYARD_DASK_SCHEDULER": ("pipeline", "scheduler"),
    "SHIPYARD_SERVE_HOST": ("serve", "host"),
    "SHIPYARD_SERVE_PORT": ("serve", "port"),
    "SHIPYARD_SERVE_WORKERS": ("serve", "workers"),
    "SHIPYARD_SERVE_ALIAS": ("serve", "alias"),
    "SHIPYARD_SERVE_RELOAD_SECONDS": ("serve", "reload_seconds"),
    "SHIPYARD_SERVE_COMPACT_SECONDS": ("serve", "compact_seconds"),
    "SHIPYARD_SERVE_SPOOL_SECONDS": ("serve", "spool_seconds"),
    "SHIPYARD_API_TOKEN": ("serve", "token"),
    "SHIPYARD_SERVE_PROTECT_PREDICTIONS": ("serve", "protect_predictions"),
    "SHIPYARD_SERVE_UI": ("serve", "ui"),
    "SHIPYARD_UI_HOST": ("ui", "host"),
    "SHIPYARD_UI_PORT": ("ui", "port"),
    "SHIPYARD_REGISTRY_CACHE_VERSIONS": ("registry", "cache_versions"),
    "SHIPYARD_REGISTRY_CACHE_BYTES": ("registry", "cache_bytes"),
}


@dataclass(frozen=True)
class StoreLocation:
    """The project's name and the URLs of its metadata database and artifact store, as
    validated (an artifact store URL never holds credentials: the store refuses one)."""

    project: str
    database: str
    artifacts: str


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds ``shipyard.yaml``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise ProjectNotFound(
        f"no {CONFIG_FILE} in {start} or any folder above it; run `shipyard init` first"
    )


def overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``ENV_OVERRIDES`` that are set (an empty one does not count)."""
    return {name: environ[name] for name in ENV_OVERRIDES if environ.get(name, "") != ""}


def source_digest(text: str, environ: Mapping[str, str]) -> str:
    """What the settings are made of: the file's text, the overriding variables, and
    the rules that validate them (``shipyard.config``'s source file, which an upgrade or
    an edit of those rules touches)."""
    rules = Path(__file__).with_name("config.py").stat()
    sources = {
        "rules": [rules.st_size, rules.st_mtime_ns],
        "file": text,
        "environment": overrides(environ),
    }
    return hashlib.sha256(json.dumps(sources, sort_keys=True).encode()).hexdigest()


def note_validated(
    root: Path, text: str, environ: Mapping[str, str], location: StoreLocation
) -> None:
    """Note that ``text`` with ``environ`` validated and where its store lives."""
    note = {
        "digest": source_digest(text, environ),
        "project": location.project,
        # The variable's value stays in the environment (see the module's docstring).
        "database": None if DATABASE_VARIABLE in overrides(environ) else location.database,
        "artifacts": location.artifacts,
    }
    path = root / STATE_DIR / VALIDATED_NOTE
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(exist_ok=True)
        partial.write_text(json.dumps(note), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        # A folder shipyard may not write to: the next command validates again, which
        # is slower and no less right.
        partial.unlink(missing_ok=True)


def validated_location(
    root: Path, environ: Mapping[str, str] | None = None
) -> StoreLocation | None:
    """Where the store of the project in ``root`` lives, if its settings as they are
    now were validated before; ``None`` when they must be validated."""
    environ = os.environ if environ is None else environ
    try:
        text = (root / CONFIG_FILE).read_text(encoding="utf-8")
        note = json.loads((root / STATE_DIR / VALIDATED_NOTE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or note.get("digest") != source_digest(text, environ):
        return None
    database = note.get("database") or environ.get(DATABASE_VARIABLE, "")
    project = note.get("project")
    artifacts = note.get("artifacts")
    if not (isinstance(project, str) and isinstance(artifacts, str) and artifacts):
        return None
    if not isinstance(database, str) or not database:
        return None
    return StoreLocation(project=project, database=database, artifacts=artifacts)
