"""``shipyard.deploy_config`` through its Python API: options named in errors, what a
project needs, and the schedule and names derived from its settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import Project
from shipyard.config import CONFIG_FILE, ProjectConfig, StoreSettings
from shipyard.deploy_config import DockerOptions, KubernetesOptions, deploy_config
from shipyard.deploy_config.kubernetes import cron_schedule, resource_name
from shipyard.deploy_config.needs import project_needs
from shipyard.errors import ConfigError, InvalidOption


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"replicas": 0}, "--replicas"),
        ({"dask_worker_memory": "lots"}, "--dask-worker-memory"),
        ({"replicas": 4, "max_replicas": 3}, "--max-replicas"),
        ({"service_type": "Ingress"}, "--service-type"),
        ({"colour": "blue"}, "--colour"),
    ],
)
def test_a_wrong_option_is_named_as_the_command_line_spells_it(
    options: dict[str, object], option: str
) -> None:
    with pytest.raises(InvalidOption) as caught:
        KubernetesOptions.from_options(**options)
    assert caught.value.option == option
    assert str(caught.value).startswith(option)


def test_options_left_out_take_their_defaults() -> None:
    options = KubernetesOptions.from_options(replicas=None, max_replicas=None)
    assert (options.replicas, options.hpa_max()) == (2, 6)
    assert KubernetesOptions.from_options(replicas=4, max_replicas=4).hpa_max() == 4
    assert DockerOptions.from_options(python="3.12").python == "3.12"


@pytest.mark.parametrize(
    ("seconds", "schedule"),
    [
        (1, "* * * * *"),
        (60, "* * * * *"),
        (61, "*/2 * * * *"),
        (900, "*/15 * * * *"),
        (3600, "0 */1 * * *"),
        (7200, "0 */2 * * *"),
        (86400, "0 0 * * *"),
    ],
)
def test_the_cronjob_runs_about_as_often_as_monitoring_interval_seconds(
    seconds: float, schedule: str
) -> None:
    assert cron_schedule(seconds) == schedule


def test_resource_names_are_kubernetes_names() -> None:
    assert resource_name("Ames_Housing.v2") == "ames-housing-v2"
    assert resource_name("...") == "shipyard"
    assert len(resource_name("x" * 100)) <= 40


def test_needs_follow_the_stores_the_estimator_and_the_files_that_exist(tmp_path: Path) -> None:
    (tmp_path / "guidelines").mkdir()
    (tmp_path / "features.py").write_text("def add(frame):\n    return frame\n")
    (tmp_path / "requirements.txt").write_text("numpy\n")
    config = ProjectConfig.model_validate(
        {
            "name": "p",
            "store": {"database": "postgresql+psycopg://u@db/p", "artifacts": "s3://b/p"},
            "model": {"estimator": "lightgbm.LGBMRegressor"},
            "transform": {"derive": "features:add"},
            "data": {"source": "/elsewhere/data.csv", "target": "y", "task": "regression"},
        }
    )
    needs = project_needs(tmp_path, config)
    assert needs.extras == ("postgres", "s3", "lightgbm")
    # shipyard.yaml itself is absent here; an absolute data path is not the project's.
    assert needs.files == ("requirements.txt", "guidelines", "features.py")
    assert not needs.sqlite and not needs.local_artifacts and needs.s3 and not needs.dask
    assert project_needs(tmp_path, config, dask=True).extras == (
        "postgres",
        "s3",
        "dask",
        "lightgbm",
    )


def test_a_kubernetes_deployment_of_an_embedded_store_is_refused_before_writing(
    tmp_path: Path,
) -> None:
    config = ProjectConfig(name="p", store=StoreSettings(artifacts="s3://b/p"))
    (tmp_path / CONFIG_FILE).write_text(config.to_yaml())
    with Project.open(tmp_path) as project:
        with pytest.raises(ConfigError, match="store.database is the embedded SQLite file"):
            deploy_config(project, "kubernetes")
        with pytest.raises(ConfigError, match="choose docker or kubernetes"):
            deploy_config(project, "nomad")  # type: ignore[arg-type]
        files = deploy_config(project, "docker", output=tmp_path / "out", compose=False)
    assert sorted(files.files) == ["Dockerfile", "Dockerfile.dockerignore"]
    assert not (tmp_path / "out").exists()  # nothing is written until write()
    written = files.write()
    assert [path.name for path in written] == ["Dockerfile", "Dockerfile.dockerignore"]
