"""A project: a folder with ``shipyard.yaml``, and the stores it configures.

This is the Python API the CLI, the server and the dashboard share.

>>> project = Project.init(tmp_path, name="demo")  # doctest: +SKIP
>>> result = project.run(pipeline)  # doctest: +SKIP
>>> project.lineage(f"run:{result.run.id}")  # doctest: +SKIP
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

from shipyard.artifacts import ArtifactStore
from shipyard.config import CONFIG_FILE, STATE_DIR, ProjectConfig, load_config
from shipyard.errors import ConfigError, ProjectNotFound, RecordNotFound
from shipyard.pipeline import Pipeline, Runner, RunResult
from shipyard.pipeline.runner import Observer
from shipyard.store import (
    ArtifactRecord,
    ExecutionRecord,
    LineageGraph,
    MetadataStore,
    RunRecord,
    downstream,
    upstream,
)

_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]+")


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds ``shipyard.yaml``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise ProjectNotFound(
        f"no {CONFIG_FILE} in {start} or any folder above it; run `shipyard init` first"
    )


class Project:
    """One shipyard project and its metadata and artifact stores."""

    def __init__(self, root: Path, config: ProjectConfig) -> None:
        self.root = root
        self.config = config

    @classmethod
    def open(cls, folder: Path | str = ".") -> Project:
        """Open the project holding ``folder`` (searching upwards, like git)."""
        root = find_root(Path(folder))
        return cls(root, load_config(root))

    @classmethod
    def init(cls, folder: Path | str = ".", *, name: str | None = None) -> Project:
        """Create ``shipyard.yaml`` and ``.shipyard/`` in ``folder``."""
        root = Path(folder).resolve()
        path = root / CONFIG_FILE
        if path.exists():
            raise ConfigError(f"{path} already exists; this folder is already a project")
        project_name = name or _NAME_CHARACTERS.sub("-", root.name).strip("-.") or "project"
        config = ProjectConfig(name=project_name)
        root.mkdir(parents=True, exist_ok=True)
        (root / STATE_DIR).mkdir(exist_ok=True)
        path.write_text(config.to_yaml(), encoding="utf-8")
        project = cls(root, load_config(root))
        project.store  # noqa: B018 - create and migrate the database now
        return project

    @cached_property
    def store(self) -> MetadataStore:
        return MetadataStore(self.config.store.database, root=self.root, project=self.config.name)

    @cached_property
    def artifacts(self) -> ArtifactStore:
        url = self.config.store.artifacts
        if "://" not in url and not Path(url).is_absolute():
            url = str(self.root / url)
        return ArtifactStore(url, cache_dir=self.root / STATE_DIR / "cache")

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- running --------------------------------------------------------------------

    def run(
        self,
        pipeline: Pipeline,
        *,
        cache: bool | None = None,
        workers: int | None = None,
        observer: Observer | None = None,
    ) -> RunResult:
        """Run ``pipeline``; ``cache`` and ``workers`` default to ``shipyard.yaml``."""
        runner = Runner(
            self.store,
            self.artifacts,
            workers=workers or self.config.pipeline.workers,
            cache=self.config.pipeline.cache if cache is None else cache,
            observer=observer,
            code_folder=self.root,
        )
        return runner.run(pipeline)

    def runs(self, *, limit: int = 50) -> list[RunRecord]:
        return self.store.list_runs(limit=limit)

    def run_record(self, run_id: int) -> RunRecord:
        return self.store.get_run(run_id)

    def run_steps(self, run_id: int) -> list[ExecutionRecord]:
        return self.store.run_executions(run_id)

    # -- lineage --------------------------------------------------------------------

    def resolve(self, ref: str) -> ArtifactRecord | RunRecord:
        """Find what a reference names.

        ``run:12`` or ``12`` is a run; ``artifact:7`` an artifact; ``sha256:ab12..`` or
        a hex digest prefix of at least 6 characters an artifact by content.
        """
        kind, _, value = ref.partition(":")
        if not value:
            kind, value = ("run", ref) if ref.isdigit() else ("sha256", ref)
        if kind in ("run", "artifact") and value.isdigit():
            if kind == "run":
                return self.store.get_run(int(value))
            return self.store.get_artifact(int(value))
        if kind == "sha256" and re.fullmatch(r"[0-9a-f]{6,64}", value):
            found = self.store.find_artifacts(value)
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise RecordNotFound(
                    f"'{ref}' matches {len(found)} artifacts; give more digest characters"
                )
            raise RecordNotFound(f"no artifact's digest starts with '{value}'")
        raise RecordNotFound(
            f"cannot understand reference '{ref}'; use run:ID, artifact:ID or a digest prefix"
        )

    def lineage(self, ref: str, *, direction: str = "upstream") -> LineageGraph:
        """The upstream (or downstream) lineage graph of a run or an artifact."""
        target = self.resolve(ref)
        if direction == "downstream":
            if not isinstance(target, ArtifactRecord):
                raise RecordNotFound("downstream lineage starts from an artifact, not a run")
            return downstream(self.store, target)
        if isinstance(target, RunRecord):
            return upstream(self.store, target.id)
        return upstream(self.store, target)
