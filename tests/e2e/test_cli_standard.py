"""The standard pipeline from the command line, as a user meets it.

The installed ``shipyard`` runs in a subprocess on real files and a SQLite project:
``quickstart`` on the bundled Ames data, then ``init --data`` on tables the project has
never seen, bad input, a worse model, promotion and run comparison.  Each project is
turned once (the quickstart once for the whole run, ``turned_demo``) and copied by the
tests that change it; independent runs go side by side, as each keeps about one core busy.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from shipyard.config import CONFIG_FILE
from tests.helpers import make_table, run_cli, run_python

ROWS = 300
Result = subprocess.CompletedProcess[str]
T = TypeVar("T")


def succeeded(result: Result) -> Result:
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result


def table_row(output: str, first_cell: str) -> list[str]:
    """The cells of the rich table row whose first cell is ``first_cell``."""
    for cells in table_rows(output):
        if cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row {first_cell!r} in:\n{output}")


def table_rows(output: str) -> list[list[str]]:
    """The cells of every body row of the rich tables in ``output``."""
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in output.splitlines()]
    return [cells for cells in rows if cells]


def detail(output: str, field: str) -> str:
    """The value of ``field`` in a ``models show NAME@ALIAS`` grid."""
    for line in output.splitlines():
        if re.match(rf"{re.escape(field)}\s{{2,}}\S", line):
            return line[len(field) :].strip()
    raise AssertionError(f"no field {field!r} in:\n{output}")


def one_error_line(result: Result) -> str:
    assert result.returncode == 1, f"{result.stdout}\n{result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def edit_settings(folder: Path, section: str, values: dict[str, Any]) -> None:
    settings = yaml.safe_load((folder / CONFIG_FILE).read_text())
    settings[section].update(values)
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(settings))


def make_fast(folder: Path) -> None:
    edit_settings(folder, "model", {"params": {"max_iter": 30}})
    # Generous latency: a loaded test machine must not fail models on latency by accident.
    edit_settings(folder, "infra", {"requests": 20, "max_p99_ms": 2000})


def copy_project(source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(source, tmp_path / source.name))


def side_by_side(*calls: Callable[[], T]) -> list[T]:
    """Run independent commands at once."""
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
    return [future.result() for future in futures]


def outputs(folder: Path, *commands: list[str]) -> list[str]:
    """The output of read-only commands run side by side in ``folder``; all must succeed."""
    results = side_by_side(*(lambda args=args: run_cli(*args, cwd=folder) for args in commands))
    return [succeeded(result).stdout for result in results]


@dataclass
class Turned:
    """A project and the output of the command that last turned its loop."""

    folder: Path
    run: Result
    init: Result | None = None
    written: dict[str, Any] = field(default_factory=dict)  # shipyard.yaml as init wrote it


def init_and_run(folder: Path, data: str, target: str) -> Turned:
    init = succeeded(run_cli("init", "--data", data, "--target", target, cwd=folder))
    written = yaml.safe_load((folder / CONFIG_FILE).read_text())
    make_fast(folder)
    return Turned(folder, succeeded(run_cli("run", cwd=folder)), init, written)


@pytest.fixture(scope="module")
def first_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Turned]:
    """Projects on houses.csv and churn.parquet, each turned once, side by side."""
    root = tmp_path_factory.mktemp("first")
    (root / "houses").mkdir()
    make_table(ROWS, seed=1).to_csv(root / "houses" / "houses.csv", index=False)
    (root / "churn").mkdir()
    frame = make_table(ROWS, seed=2, task="classification")
    assert frame.isna().any().any() and frame.select_dtypes(exclude="number").shape[1] == 3
    frame.to_parquet(root / "churn" / "churn.parquet", index=False)
    houses, churn = side_by_side(
        lambda: init_and_run(root / "houses", "houses.csv", "price"),
        lambda: init_and_run(root / "churn", "churn.parquet", "expensive"),
    )
    return {"houses": houses, "churn": churn}


@pytest.fixture(scope="module")
def houses(first_runs: dict[str, Turned]) -> Turned:
    """The regression project on houses.csv: houses:1 in production."""
    return first_runs["houses"]


@pytest.fixture(scope="module")
def second_runs(houses: Turned, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Turned]:
    """Two copies of the houses project run again side by side.

    ``candidate`` with a clearly worse model (houses:2); ``rejected`` on corrupted data:
    a numeric column turned into text and another column removed.
    """
    candidate = copy_project(houses.folder, tmp_path_factory.mktemp("candidate"))
    edit_settings(candidate, "model", {"params": {"max_iter": 1, "max_depth": 1}})
    rejected = copy_project(houses.folder, tmp_path_factory.mktemp("rejected"))
    frame = make_table(ROWS, seed=1)
    frame["size"] = frame["size"].map(lambda v: f"{v:.0f} m2")
    frame.drop(columns="rooms").to_csv(rejected / "houses.csv", index=False)
    runs = side_by_side(*(lambda f=f: run_cli("run", cwd=f) for f in (candidate, rejected)))
    return {
        "candidate": Turned(candidate, succeeded(runs[0])),
        "rejected": Turned(rejected, runs[1]),
    }


@pytest.fixture(scope="module")
def candidate(second_runs: dict[str, Turned]) -> Turned:
    return second_runs["candidate"]


@pytest.fixture(scope="module")
def rejected(second_runs: dict[str, Turned]) -> Turned:
    return second_runs["rejected"]


# -- quickstart ---------------------------------------------------------------------------


def test_quickstart_turns_the_loop_once_and_reruns_from_cache(
    turned_demo: Path, quickstart_output: str, quickstart_errors: str, tmp_path: Path
) -> None:
    # The run's quickstart (it succeeded), read in a copy of its own: the copy reads the
    # quickstart's data file, so that its cache holds as in the folder the user made.
    folder, out = turned_demo, quickstart_output
    copy = copy_project(folder, tmp_path)
    edit_settings(copy, "data", {"source": str(folder / "data" / "ames.csv.gz")})

    said = " ".join(out.split())
    assert f"shipyard quickstart in {folder}: predict Sale_Price of houses in Ames" in said
    assert "data ames: 1,941 rows × 74 columns" in out  # the houses sold in 2006-2008
    assert "9 ran, 0 cached" in out
    assert "validation: no anomalies" in out
    run_id = re.search(r"^run (\d+) succeeded", out, re.MULTILINE)
    assert run_id is not None, out
    shown_r2 = float(table_row(out, "r2")[1])
    shown_rmse = float(table_row(out, "rmse")[1])
    assert 0.8 < shown_r2 <= 1 and shown_rmse > 0
    assert "blessing: blessed" in out
    assert "registry: ames:1 is production" in out
    # Nothing after its last line: no report of sketches alive at exit (see lifetime).
    assert "leaked" not in quickstart_errors, quickstart_errors[-2000:]

    # The loop, as the printout tells it.
    assert "served 648 houses sold in 2009" in said
    assert re.search(
        r"monitoring: window of 3\d\d predictions: \d+ features drifted \(Year_Sold", said
    )
    assert "alert opened [warning] data_drift" in said
    for step in ("triggered", "trained", "gated", "canary", "promoted"):
        assert f"loop: {step} — " in said, said
    assert "ames:2 is production, retrained without a person" in said
    errors = re.search(r"RMSE is ([\d,]+) against ([\d,]+) for ames:1", said)
    assert errors is not None and int(errors[1].replace(",", "")) < int(errors[2].replace(",", ""))

    models, datasets, shown, lineage, history = outputs(
        copy,
        ["models"],
        ["datasets"],
        ["models", "show", "ames:1"],
        ["lineage", "ames:1"],
        ["loop", "history", "ames", "--format", "json"],
    )

    assert table_row(models, "ames")[1:3] == ["2", "candidate → 2, production → 2"]
    assert [event["step"] for event in json.loads(history)] == [
        "triggered", "trained", "gated", "canary", "promoted",
    ]  # fmt: skip

    dataset_id, name, version, rows, columns, source, first_run, _ = table_row(datasets, "1")
    assert (name, rows, columns, first_run) == ("ames", "1,941", "74", run_id[1])
    assert source == str(folder / "data" / "ames.csv.gz")
    assert {cells[1] for cells in table_rows(datasets)} == {"ames", "ames-feedback"}

    assert detail(shown, "model") == "ames:1"
    assert detail(shown, "blessed") == "yes"
    assert detail(shown, "infra-validated") == "yes"
    assert detail(shown, "pipeline run") == run_id[1]
    assert detail(shown, "dataset version").startswith(
        f"{dataset_id}: ames {version} (1,941 rows, {source})"
    )
    assert detail(shown, "gate") == "passed"
    metrics = json.loads(detail(shown, "metrics"))
    assert f"{metrics['r2']:.5g}" == f"{shown_r2:.5g}"
    assert f"{metrics['rmse']:.5g}" == f"{shown_rmse:.5g}"
    package = detail(shown, "package").split()[0]

    assert lineage.splitlines()[0].startswith(f"ModelPackage {package} ")
    assert "step Trainer execution" in lineage and f"of run {run_id[1]} succeeded" in lineage
    assert "step ExampleGen execution" in lineage
    assert f"dataset ames version {version} from {source}" in lineage

    # An answer of the quickstart's server leads back to the data.
    prediction_id = re.search(r"`shipyard lineage ([0-9a-f]{32})`", said)
    assert prediction_id is not None, out
    chain = succeeded(run_cli("lineage", prediction_id[1], cwd=copy)).stdout
    assert chain.startswith(f"prediction {prediction_id[1]} by ames:1 (primary) at ")
    assert f"run {run_id[1]} (standard) succeeded" in chain
    assert f"dataset version {dataset_id}: ames {version} (1,941 rows × 74 columns)" in chain

    # Run again: everything is cached, and the first version does not take production back.
    again = succeeded(run_cli("run", cwd=copy)).stdout
    assert "ran, " in again and ("7 cached" in again or "8 cached" in again or "9 cached" in again)
    assert "registry: ames:1 was registered before; production stays" in " ".join(again.split())
    assert table_row(outputs(copy, ["models"])[0], "ames")[1:3] == [
        "2",
        "candidate → 2, production → 2",
    ]


# -- init on tables the project has never seen ---------------------------------------------


def test_init_on_a_csv_infers_regression_and_run_puts_a_model_in_production(
    houses: Turned,
) -> None:
    data = houses.written["data"]
    assert (data["source"], data["target"], data["task"]) == ("houses.csv", "price", "regression")
    assert houses.written["model"]["name"] == "houses"
    assert houses.init is not None
    assert "model houses predicts 'price' (regression) from houses.csv" in houses.init.stdout

    out = houses.run.stdout
    assert f"data houses: {ROWS} rows × 6 columns from {houses.folder / 'houses.csv'}" in out
    assert "9 ran, 0 cached" in out
    assert "blessing: blessed" in out
    assert "registry: houses:1 is production (aliases: production)" in out
    assert float(table_row(out, "r2")[1]) > 0.8
    # The registry's own view of houses:1 is checked by the tests that build on this run.


def test_init_on_a_parquet_infers_classification_and_run_puts_a_model_in_production(
    first_runs: dict[str, Turned],
) -> None:
    trained = first_runs["churn"]

    data = trained.written["data"]
    assert (data["source"], data["task"]) == ("churn.parquet", "classification")
    assert trained.written["model"]["name"] == "churn"
    assert trained.init is not None and "(classification)" in trained.init.stdout
    out = trained.run.stdout
    assert f"data churn: {ROWS} rows × 6 columns" in out
    assert "blessing: blessed" in out
    check = re.search(r"✓ roc_auc on overall = ([\d.]+) passes the bound >= 0.5", out)
    assert check is not None and float(check[1]) > 0.8, out
    assert "registry: churn:1 is production (aliases: production)" in out
    assert {row[0] for row in table_rows(out)} >= {"accuracy", "roc_auc", "log_loss"}


def test_a_fully_cached_run_loads_no_data_library(houses: Turned, tmp_path: Path) -> None:
    # A cached run only reads what its steps recorded: the summary's statistics and
    # reports come back without pandas, pyarrow or scikit-learn (seconds of start-up).
    folder = copy_project(houses.folder, tmp_path)
    succeeded(run_cli("run", cwd=folder))  # the copy's own source path: ExampleGen again
    script = (
        "import sys\n"
        "from shipyard.cli import app\n"
        "app(['run'], standalone_mode=False)\n"
        "loaded = {'pandas', 'pyarrow', 'sklearn', 'scipy', 'skops'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    result = run_python(script, cwd=folder, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 ran, 9 cached" in result.stdout
    assert "blessing: blessed" in result.stdout and "statistics (training split)" in result.stdout


# -- bad input ------------------------------------------------------------------------------


def test_init_on_bad_data_fails_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    cases: dict[str, tuple[str, str, bytes | None]] = {
        "missing-target": ("houses.csv", "cost", make_table(50).to_csv(index=False).encode()),
        "unbalanced-quotes": ("quotes.csv", "price", b'size,price\n"120,1\n80,"2\n"95,3\n'),
        "binary": ("binary.csv", "price", b"PK\x03\x04" + bytes(range(256)) * 16),
        "missing-file": ("nowhere.csv", "price", None),
    }
    for case, (data, _, content) in cases.items():
        (tmp_path / case).mkdir()
        if content is not None:
            (tmp_path / case / data).write_bytes(content)

    results = side_by_side(
        *(
            lambda case=case, data=data, target=target: run_cli(
                "init", "--data", data, "--target", target, cwd=tmp_path / case
            )
            for case, (data, target, _) in cases.items()
        )
    )

    lines = dict(zip(cases, map(one_error_line, results), strict=True))
    assert lines["missing-target"] == (
        "error: column 'cost' is not in houses.csv; its columns: "
        "size, rooms, age, area, heating, price"
    )
    for case in ("unbalanced-quotes", "binary"):
        assert lines[case].startswith(f"error: cannot read {tmp_path / case / cases[case][0]}: ")
    missing = tmp_path / "missing-file" / "nowhere.csv"
    assert lines["missing-file"] == f"error: data source {missing} does not exist"
    assert not list(tmp_path.glob(f"*/{CONFIG_FILE}"))
    assert not list(tmp_path.glob("*/.shipyard"))


def test_corrupted_data_stops_the_run_and_production_stays(rejected: Turned) -> None:
    result = rejected.run

    assert result.returncode == 1, result.stdout
    assert "error: step 'ExampleValidator' failed" in result.stderr
    assert "column 'size' holds str values but the schema expects float" in result.stderr
    assert "column 'rooms' is missing; the schema requires it" in result.stderr
    assert "Traceback" not in result.stderr
    assert table_row(result.stdout, "Trainer")[1] == "skipped"
    assert table_row(result.stdout, "Pusher")[1] == "skipped"
    assert "registry:" not in result.stdout

    versions = succeeded(run_cli("models", "show", "houses", cwd=rejected.folder)).stdout
    assert table_row(versions, "1")[4] == "production"
    (history,) = table_rows(versions.split("alias history")[1])
    assert history[1:4] == ["production", "-", "1"]
    assert [cells[0] for cells in table_rows(versions.split("alias history")[0])] == ["1"]


def test_restoring_the_data_after_a_rejected_run_lets_runs_succeed_again(
    houses: Turned, rejected: Turned, tmp_path: Path
) -> None:
    folder = copy_project(rejected.folder, tmp_path)
    shutil.copyfile(houses.folder / "houses.csv", folder / "houses.csv")

    result = run_cli("run", cwd=folder)

    assert result.returncode == 0, result.stderr


# -- a worse model, promotion, comparison ---------------------------------------------------


def test_a_worse_model_is_registered_as_a_candidate(candidate: Turned) -> None:
    out = candidate.run.stdout
    assert "run 2 succeeded" in out
    assert "blessing: not blessed" in out
    assert "registry: houses:2 registered as a candidate; production did not move because:" in out
    _, new, production = table_row(out, "rmse")
    assert float(new) > 1.05 * float(production)
    check = re.search(
        r"✗ rmse on overall = (\S+) \(production: (\S+)\) fails the limit (\S+) "
        r"\(at most 5% above production\)$",
        out.split("registry:")[1],
        re.MULTILINE,
    )
    assert check is not None, out
    assert [f"{float(v):.5g}" for v in check.groups()[:2]] == [new, production]
    assert float(check[3]) == pytest.approx(1.05 * float(check[2]), rel=1e-4)

    current, second = outputs(
        candidate.folder, ["models", "show", "houses@production"], ["models", "show", "houses:2"]
    )
    assert detail(current, "model") == "houses:1"
    assert detail(current, "blessed") == "yes"
    assert f"{json.loads(detail(current, 'metrics'))['rmse']:.5g}" == production
    assert detail(second, "model") == "houses:2"
    assert detail(second, "blessed") == "no"
    assert detail(second, "aliases") == "none"
    assert detail(second, "pipeline run") == "2"
    assert detail(second, "gate") == check[0]


def test_promote_moves_an_alias_and_keeps_its_history(candidate: Turned, tmp_path: Path) -> None:
    folder = copy_project(candidate.folder, tmp_path)

    moved = succeeded(run_cli("promote", "houses", "2", "--alias", "staging", cwd=folder))
    missing = run_cli("promote", "houses", "7", cwd=folder)

    assert "moved houses@staging from nothing to version 2" in moved.stdout
    assert one_error_line(missing) == "error: model 'houses' has no version 7"
    shown = succeeded(run_cli("models", "show", "houses", cwd=folder)).stdout
    assert table_row(shown, "2")[4] == "staging"
    assert table_row(shown, "1")[4] == "production"
    history = shown.split("alias history")[1]
    moves = [cells[1:4] for cells in table_rows(history)]
    assert moves == [["production", "-", "1"], ["staging", "-", "2"]]


def test_runs_compare_shows_two_runs_side_by_side(candidate: Turned) -> None:
    compared = succeeded(run_cli("runs", "--compare", "1", "2", cwd=candidate.folder)).stdout

    assert re.search(r"^┃\s+┃\s+run 1 ┃\s+run 2 ┃$", compared, re.MULTILINE), compared
    assert table_row(compared, "run")[1:] == ["standard", "standard"]
    assert table_row(compared, "experiment")[1:] == ["standard", "standard"]
    # The metrics are the ones the second run's evaluation table showed side by side.
    _, new, production = table_row(candidate.run.stdout, "rmse")
    first, second = table_row(compared, "metric rmse")[1:]
    assert [f"{float(first):.5g}", f"{float(second):.5g}"] == [production, new]
    assert table_row(compared, "param model.max_iter")[1:] == ["30", "1"]
    assert table_row(compared, "param model.max_depth")[2] == "1"  # only run 2 set it
    params = table_row(compared, "param Trainer.params")[1:]
    assert params == ["{'max_iter': 30}", "{'max_depth': 1, 'max_iter': 1}"]

    alone = run_cli("runs", "--compare", "1", cwd=candidate.folder)
    assert alone.returncode == 2  # a usage error
    assert "give at least two run ids to compare" in alone.stderr
