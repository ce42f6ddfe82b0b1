from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import ConfigError, Project, ProjectNotFound
from shipyard.config import parse_config


def test_defaults_and_env_overrides() -> None:
    config = parse_config("name: demo\n", environ={"SHIPYARD_WORKERS": "4"})
    assert config.pipeline.workers == 4
    assert config.store.database == "sqlite:///.shipyard/metadata.db"
    overridden = parse_config(
        "name: demo\nstore:\n  database: sqlite:///x.db\n",
        environ={"SHIPYARD_DB_URL": "postgresql://h/db", "SHIPYARD_ARTIFACTS_URL": "s3://b/p"},
    )
    assert overridden.store.database == "postgresql://h/db"
    assert overridden.store.artifacts == "s3://b/p"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: demo\npipeline:\n  workers: 0\n", "field 'pipeline.workers': Input should be"),
        ("name: demo\nstore:\n  databse: x\n", "field 'store.databse': Extra inputs"),
        ("pipeline: {}\n", "field 'name': Field required"),
        ("- a\n- b\n", "must be a mapping of settings, not list"),
        ("name: [unclosed\n", "is not valid YAML"),
        ("name: 'has space'\n", "field 'name': String should match pattern"),
    ],
)
def test_invalid_configuration_names_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_config(text, environ={})


def test_projects_are_found_from_subfolders(tmp_path: Path) -> None:
    Project.init(tmp_path / "proj", name="proj").close()
    nested = tmp_path / "proj" / "a" / "b"
    nested.mkdir(parents=True)
    with Project.open(nested) as project:
        assert project.root == (tmp_path / "proj").resolve()
        assert project.config.name == "proj"
    with pytest.raises(ProjectNotFound, match="run `shipyard init` first"):
        Project.open(tmp_path)
