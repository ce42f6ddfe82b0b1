from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipyard import ConfigError, Project, ProjectNotFound
from shipyard.config import CONFIG_FILE, parse_config
from shipyard.config_source import STATE_DIR, VALIDATED_NOTE, StoreLocation, validated_location
from tests.helpers import run_cli


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
        ("pipeline:\n  executor: spark\n", {}, "field 'pipeline.executor': Input should be"),
        ("", {"SHIPYARD_DASK_SCHEDULER": "tcp://h:8786"}, "scheduler is the address of a Dask"),
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


TYPO = "name: demo\ndata:\n  source: a.csv\n  target: y\n  task: clasification\n"
TYPO_REASON = (
    "field 'data.task': Input should be 'regression' or 'classification' "
    "(did you mean 'classification'?)"
)


@pytest.mark.parametrize(
    ("section", "text", "message"),
    [
        ("data", "task: clasification", TYPO_REASON),
        ("transform", "impute: Mean", "'median' or 'mean' (did you mean 'mean'?)"),
        ("transform", "scaling: minmax", "field 'transform.scaling': Input should be 'standard'"),
        ("transform", "encoding: one-hot", "'onehot' or 'ordinal' (did you mean 'onehot'?)"),
        ("validation", "drift_severity: fatal", "Input should be 'warning' or 'error'"),
    ],
)
def test_a_choice_outside_the_allowed_values_is_refused_naming_them(
    section: str, text: str, message: str
) -> None:
    body = f"name: demo\n{section}:\n  {text}\n"
    if section == "data":
        body = TYPO
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(body, environ={})


def test_a_typo_in_shipyard_yaml_is_refused_when_the_project_opens(tmp_path: Path) -> None:
    Project.init(tmp_path, name="demo").close()
    (tmp_path / CONFIG_FILE).write_text(TYPO)
    with pytest.raises(ConfigError, match=re.escape(TYPO_REASON)):
        Project.open(tmp_path)


def test_a_typo_in_shipyard_yaml_ends_the_cli_with_one_line(tmp_path: Path) -> None:
    Project.init(tmp_path, name="demo").close()
    (tmp_path / CONFIG_FILE).write_text(TYPO)
    result = run_cli("run", cwd=tmp_path, timeout=60)
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert TYPO_REASON in lines[0]


def test_an_unknown_setting_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("name: demo\ntrasnform:\n  impute: mean\n", environ={})
    assert str(caught.value).endswith(
        "field 'trasnform': Extra inputs are not permitted (did you mean 'transform'?); "
        "known: name, store, pipeline, data, transform, model, tuner, validation, evaluation, "
        "infra, serve, ui, registry, deployments, automation, review, monitoring, loop"
    )
    with pytest.raises(ConfigError, match=r"'data\.schem'.*\(did you mean 'schema'\?\)"):
        parse_config(TYPO.replace("clasification", "regression") + "  schem: s.yaml\n", environ={})


def test_settings_validated_once_are_read_without_validating_again(tmp_path: Path) -> None:
    Project.init(tmp_path, name="demo").close()
    with Project.open(tmp_path) as project:
        assert "config" not in vars(project)  # the note of the validation was enough
        assert [run.id for run in project.runs()] == []
        assert "config" not in vars(project)
        assert project.config.name == "demo"


def test_a_changed_file_or_variable_is_validated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Project.init(tmp_path, name="demo").close()
    assert validated_location(tmp_path, environ={}) == StoreLocation(
        "demo", "sqlite:///.shipyard/metadata.db", ".shipyard/artifacts"
    )
    assert validated_location(tmp_path, environ={"SHIPYARD_SERVE_PORT": "x"}) is None
    monkeypatch.setenv("SHIPYARD_SERVE_PORT", "x")
    with pytest.raises(ConfigError, match="serve.port"):
        Project.open(tmp_path)
    monkeypatch.delenv("SHIPYARD_SERVE_PORT")
    text = (tmp_path / CONFIG_FILE).read_text()
    (tmp_path / CONFIG_FILE).write_text(text.replace("name: demo", "name: other"))
    assert validated_location(tmp_path, environ={}) is None
    (tmp_path / CONFIG_FILE).write_text(TYPO)
    with pytest.raises(ConfigError, match=re.escape(TYPO_REASON)):
        Project.open(tmp_path)


def test_the_note_keeps_no_database_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Project.init(tmp_path, name="demo").close()
    secret = f"sqlite:///{tmp_path}/secret-place.db"
    monkeypatch.setenv("SHIPYARD_DB_URL", secret)
    Project.open(tmp_path).close()
    assert "secret-place" not in (tmp_path / STATE_DIR / VALIDATED_NOTE).read_text()
    assert validated_location(tmp_path) == StoreLocation("demo", secret, ".shipyard/artifacts")
