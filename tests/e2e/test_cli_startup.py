"""What the command line loads before it answers: ``--version`` and ``--help`` without
the settings' models (pydantic) nor the store (SQLAlchemy), the read-only commands without
the data libraries (pandas, scikit-learn) that cost them seconds nor SQLAlchemy (listing
predictions included), and what it leaves to the end of the process."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import orjson

import shipyard
from shipyard import Project
from tests.helpers import run_cli, run_python
from tests.prediction_log.helpers import record


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"shipyard {shipyard.__version__}"
    assert shipyard.__version__ == metadata.version("shipyard")


def test_version_and_help_load_neither_settings_nor_store(tmp_path: Path) -> None:
    # Answering --help builds every command's options, so this also holds each command's
    # signature to light modules. A command's own --help brings Typer's option parsing,
    # which uses pydantic; the settings and the store stay out still.
    script = (
        "import sys\n"
        "from shipyard.cli import app\n"
        "settings_and_store = {'shipyard.config', 'yaml', 'shipyard.store', 'sqlalchemy'}\n"
        "for command in (['--version'], ['--help']):\n"
        "    assert app(command, standalone_mode=False) == 0, command\n"
        "loaded = (settings_and_store | {'pydantic'}) & set(sys.modules)\n"
        "assert not loaded, loaded\n"
        "for command in (['init', '--help'], ['runs', '--help']):\n"
        "    assert app(command, standalone_mode=False) == 0, command\n"
        "loaded = settings_and_store & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    result = run_python(script, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"shipyard {shipyard.__version__}" in result.stdout
    assert "--task" in result.stdout and "regression|classification" in result.stdout


def test_read_only_commands_load_no_data_library(project: Project) -> None:
    # Each command runs through the real Typer app in one process; the modules it left
    # in sys.modules are what any of them imported.  The settings were validated when
    # the project was made, and an existing store is read on plain connections: neither
    # YAML nor SQLAlchemy is loaded.
    script = (
        "import sys\n"
        "from shipyard.cli import app\n"
        "for command in (['runs'], ['models'], ['datasets'], ['lineage', 'run:1']):\n"
        "    try:\n"
        "        app(command, standalone_mode=False)\n"
        "    except Exception as exc:  # lineage of a run this empty project lacks\n"
        "        assert type(exc).__name__ == 'RecordNotFound', exc\n"
        "heavy = {'pandas', 'sklearn', 'pyarrow', 'scipy', 'skops', 'sqlalchemy', 'yaml'}\n"
        "loaded = heavy & set(sys.modules)\n"
        "assert not loaded, loaded\n"
        "assert 'shipyard.store.reader' in sys.modules  # the commands did read the store\n"
    )
    project.store  # noqa: B018 - the database exists, as after any first command
    result = run_python(script, cwd=project.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "runs" in result.stdout and "models" in result.stdout


def test_listing_predictions_loads_neither_pandas_nor_the_orm(project: Project) -> None:
    # One prediction compacted into a segment (read with pyarrow), one still spooled.
    log = project.prediction_log()
    log.append([record(1)])
    log.close()
    log.compact()
    log.append([record(2, model="churn")])
    log.close()
    script = (
        "import sys\n"
        "from shipyard.cli import app\n"
        "app(['predictions', '--format', 'json'], standalone_mode=False)\n"
        "app(['predictions', '--model', 'ames'], standalone_mode=False)\n"
        "heavy = {'pandas', 'sklearn', 'scipy', 'sqlalchemy', 'yaml', 'fsspec'}\n"
        "loaded = heavy & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    result = run_python(script, cwd=project.root)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = orjson.loads(result.stdout.splitlines()[0])
    assert [(row["prediction_id"], row["model"]) for row in listed] == [
        ("p00002", "churn"),
        ("p00001", "ames"),
    ]
    assert listed[1]["timestamp"] == "2024-05-01T12:01:00Z"
    assert "p00001" in result.stdout.split("\n", 1)[1]
    assert "p00002" not in result.stdout.split("\n", 1)[1]


def test_a_command_freezes_what_it_leaves_and_closes_the_store(tmp_path: Path) -> None:
    # The objects alive at exit are frozen, sparing them the exit's garbage collections;
    # that is safe because the command closed the store itself: SQLite removes its
    # write-ahead log when the last connection closes.
    with Project.init(tmp_path / "demo"):
        pass
    script = (
        "import gc, sys\n"
        "from shipyard.cli import main\n"
        "sys.argv = ['shipyard', 'runs']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "assert gc.get_freeze_count() > 0\n"
    )
    result = run_python(script, cwd=tmp_path / "demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "runs" in result.stdout and "status" in result.stdout
    database = tmp_path / "demo" / ".shipyard" / "metadata.db"
    assert database.exists()
    assert not database.with_name("metadata.db-wal").exists()
