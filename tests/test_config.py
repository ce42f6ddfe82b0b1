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


def test_serve_settings_come_from_the_file_and_the_environment() -> None:
    text = "name: demo\nserve:\n  port: 9000\n  alias: staging\n"
    config = parse_config(text, environ={"SHIPYARD_SERVE_WORKERS": "3"})
    assert (config.serve.port, config.serve.alias, config.serve.workers) == (9000, "staging", 3)
    assert config.serve.host == "127.0.0.1"
    overridden = parse_config(text, environ={"SHIPYARD_SERVE_PORT": "9100"})
    assert overridden.serve.port == 9100
    # What a parent process hands its workers reads back as the same settings.
    changed = config.serve.with_changes(reload_seconds=0.5, host=None)
    assert parse_config("name: demo\n", environ=changed.environment()).serve == changed


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("serve:\n  port: 0\n", {}, "field 'serve.port': Input should be greater than or equal"),
        ("serve:\n  prot: 80\n", {}, "field 'serve.prot': Extra inputs"),
        ("", {"SHIPYARD_SERVE_RELOAD_SECONDS": "soon"}, "field 'serve.reload_seconds'"),
        ("registry:\n  cache_versions: 0\n", {}, "field 'registry.cache_versions'"),
    ],
)
def test_invalid_serve_settings_name_the_field(
    text: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config("name: demo\n" + text, environ=environ)


def test_command_line_changes_to_serve_settings_are_validated() -> None:
    settings = parse_config("name: demo\n", environ={}).serve
    with pytest.raises(ConfigError, match="serve settings is invalid: field 'workers'"):
        settings.with_changes(workers=0)
