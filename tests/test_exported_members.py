import json
import types

import shipyard
from tests.helpers import run_python


def test_all_exported_members_exist_and_are_documented() -> None:
    for name in shipyard.__all__:
        member = getattr(shipyard, name)
        if name != "__version__":
            assert member.__doc__, f"shipyard.{name} has no docstring"
    public = {
        name
        for name, value in vars(shipyard).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - {"annotations"} == set(shipyard.__all__) - {"__version__"}


def test_importing_shipyard_leaves_pandas_for_the_prediction_log_to_import() -> None:
    # Every CLI command imports shipyard; pandas and pyarrow would add a second to each.
    script = (
        "import sys, shipyard\n"
        "assert 'pandas' not in sys.modules and 'pyarrow' not in sys.modules\n"
        "assert shipyard.PredictionLog.__module__ == 'shipyard.prediction_log.log'\n"
        "assert 'pandas' in sys.modules\n"
    )
    result = run_python(script)
    assert result.returncode == 0, result.stderr


def loaded_after(imports: str, modules: set[str]) -> set[str]:
    """Which of ``modules`` a fresh interpreter holds after ``import <imports>``."""
    script = (
        f"import json, sys, {imports}\nprint(json.dumps(sorted({modules!r} & sys.modules.keys())))"
    )
    result = run_python(script)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def test_the_command_line_loads_no_data_library_before_a_command_needs_one() -> None:
    # `shipyard --help` and every command pay for what the CLI imports: pandas and
    # scikit-learn cost seconds, and only the commands that read data need them; Optuna
    # only the Tuner's processes.
    assert loaded_after("shipyard.cli.app", {"pandas", "sklearn", "pyarrow", "optuna"}) == set()


def test_a_pipeline_worker_loads_no_metadata_store() -> None:
    # A worker process runs steps and answers with digests; the runner alone writes
    # metadata. SQLAlchemy and the store's tables were half a second of each spawned
    # worker's start-up (pool workers, the Tuner's trial processes).
    imports = (
        "shipyard.pipeline.task, shipyard.pipeline.executors, "
        "shipyard.components.standard, shipyard.components.ingestion"
    )
    store = {"sqlalchemy", "shipyard.store.metadata", "shipyard.store.tables"}
    assert loaded_after(imports, store) == set()


def test_the_store_loads_no_postgresql_dialect_until_it_talks_to_postgresql() -> None:
    # Declaring a PostgreSQL-only option on a table loads SQLAlchemy's PostgreSQL dialect,
    # a tenth of a second of every command that reads a SQLite store.
    imports = "shipyard.store.tables, shipyard.store.metadata"
    assert loaded_after(imports, {"sqlalchemy.dialects.postgresql"}) == set()
