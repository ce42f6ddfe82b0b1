from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard import Pipeline, Project, StepFailed, StepResult
from shipyard.pipeline import fingerprint
from tests.helpers import MakeProject, process_ended
from tests.pipeline import components as c


def three_steps(count: int = 10, factor: float = 2.0) -> Pipeline:
    numbers = c.generate(count=count)
    scaled = c.scale(numbers=numbers.outputs.numbers, factor=factor)
    summary = c.Summarise(numbers=scaled.outputs.scaled)
    return Pipeline("three", [numbers, scaled, summary])


def read_output(project: Project, result_artifact_digest: str) -> str:
    return project.artifacts.read_bytes(result_artifact_digest).decode()


def test_three_steps_run_and_record_outputs(project: Project) -> None:
    result = project.run(three_steps(count=4, factor=3))

    assert result.succeeded
    assert result.names("succeeded") == ["generate", "scale", "Summarise"]
    summary = result.output("Summarise", "summary")
    assert json.loads(read_output(project, summary.digest)) == {"total": 18.0, "count": 4}
    assert summary.properties == {"total": 18.0}
    assert result.output("generate", "numbers").properties == {"rows": 4}
    steps = project.run_steps(result.run.id)
    assert [s.status for s in steps] == ["succeeded"] * 3
    assert steps[1].inputs["numbers"].id == steps[0].outputs["numbers"].id
    assert steps[1].params == {"factor": 3.0}
    assert result.run.params == {
        "generate": {"count": 4, "start": 0},
        "scale": {"factor": 3.0},
        "Summarise": {},
    }
    assert result.run.environment["python"].count(".") == 2


def test_unchanged_rerun_is_fully_cached(project: Project) -> None:
    first = project.run(three_steps())
    second = project.run(three_steps())

    assert second.names("cached") == ["generate", "scale", "Summarise"]
    steps = project.run_steps(second.run.id)
    first_steps = project.run_steps(first.run.id)
    assert [s.cached_from_id for s in steps] == [s.id for s in first_steps]
    assert second.output("Summarise", "summary").id == first.output("Summarise", "summary").id
    # A cached step is still part of the run's lineage.
    assert steps[2].inputs["numbers"].id == first_steps[1].outputs["scaled"].id


def test_changing_a_parameter_reruns_only_that_step_and_descendants(project: Project) -> None:
    project.run(three_steps(factor=2))
    changed = project.run(three_steps(factor=5))

    assert changed.names("cached") == ["generate"]
    assert changed.names("succeeded") == ["scale", "Summarise"]
    summary = json.loads(read_output(project, changed.output("Summarise", "summary").digest))
    assert summary["total"] == 5 * sum(range(10))


def test_same_output_bytes_downstream_stay_cached(project: Project) -> None:
    # The second generate differs in parameters but not in output: scale is then cached
    # because its fingerprint depends on its input's content, not on how it was made.
    first = c.generate(count=3)
    project.run(Pipeline("p", [first, c.scale(numbers=first.outputs.numbers)]))
    other = c.generate(count=3, start=0)
    again = project.run(Pipeline("p", [other, c.scale(numbers=other.outputs.numbers)]))
    assert again.names("cached") == ["generate", "scale"]


def test_no_cache_reruns_every_step(project: Project) -> None:
    project.run(three_steps())
    again = project.run(three_steps(), cache=False)
    assert again.names("succeeded") == ["generate", "scale", "Summarise"]
    # The same bytes were produced, so the same artifacts are reused, not duplicated.
    assert len({a.id for s in project.run_steps(again.run.id) for a in s.outputs.values()}) == 3


def test_component_can_opt_out_of_caching(project: Project) -> None:
    pipeline = Pipeline("u", [c.uncached()])
    first = project.run(pipeline)
    second = project.run(Pipeline("u", [c.uncached()]))
    assert second.names("succeeded") == ["uncached"]
    assert first.output("uncached", "numbers").digest != second.output("uncached", "numbers").digest


def test_failure_skips_dependants_and_lets_independent_branches_finish(
    project: Project, tmp_path: Path
) -> None:
    flag = tmp_path / "broken"
    flag.write_text("")

    def pipeline() -> Pipeline:
        numbers = c.generate(count=5)
        broken = c.fragile(numbers=numbers.outputs.numbers, flag_file=str(flag))
        after = c.Summarise(numbers=broken.outputs.passed).named("after_broken")
        independent = c.scale(numbers=numbers.outputs.numbers)
        summary = c.Summarise(numbers=independent.outputs.scaled)
        return Pipeline("branches", [numbers, broken, after, independent, summary])

    failed = project.run(pipeline())

    assert failed.run.status == "failed"
    assert "fragile" in (failed.run.error or "") and "refusing to run" in (failed.run.error or "")
    assert failed.steps["fragile"].status == "failed"
    assert failed.steps["after_broken"].status == "skipped"
    assert failed.steps["scale"].status == "succeeded"
    assert failed.steps["Summarise"].status == "succeeded"
    recorded = {s.step: s for s in project.run_steps(failed.run.id)}
    assert "ValueError: refusing to run" in (recorded["fragile"].error or "")
    assert "Traceback" in (recorded["fragile"].traceback or "")
    assert recorded["fragile"].outputs == {}
    assert recorded["after_broken"].status == "skipped"
    with pytest.raises(StepFailed, match="fragile"):
        failed.raise_for_failure()

    flag.unlink()
    fixed = project.run(pipeline())

    assert fixed.succeeded
    assert sorted(fixed.names("succeeded")) == ["after_broken", "fragile"]
    assert sorted(fixed.names("cached")) == ["Summarise", "generate", "scale"]


def test_retries_with_backoff_until_success(project: Project, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    result = project.run(Pipeline("retry", [c.flaky(counter_file=str(counter), failures=2)]))

    assert result.succeeded
    assert result.steps["flaky"].attempts == 3
    assert project.run_steps(result.run.id)[0].attempts == 3


def test_retries_exhausted_fail_the_step(project: Project, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    result = project.run(Pipeline("retry", [c.flaky(counter_file=str(counter), failures=5)]))

    assert result.steps["flaky"].status == "failed"
    assert result.steps["flaky"].attempts == 3
    assert "transient failure 3" in (result.steps["flaky"].error or "")


def test_independent_branches_run_in_parallel(make_project: MakeProject, tmp_path: Path) -> None:
    project = make_project(workers=2)
    folder = str(tmp_path)
    a = c.rendezvous(folder=folder, me="a", other="b").named("a")
    b = c.rendezvous(folder=folder, me="b", other="a").named("b")
    result = project.run(Pipeline("parallel", [a, b]))
    assert result.succeeded, result.run.error


def test_a_step_that_writes_no_output_fails_clearly(project: Project) -> None:
    result = project.run(Pipeline("lazy", [c.lazy()]))
    assert result.steps["lazy"].status == "failed"
    assert "did not write its output 'numbers'" in (result.steps["lazy"].error or "")


def test_folder_artifacts_flow_between_steps(project: Project) -> None:
    tree = c.folder_output(files=4)
    counted = c.count_files(tree=tree.outputs.tree)
    result = project.run(Pipeline("folders", [tree, counted]))

    assert result.output("folder_output", "tree").kind == "dir"
    assert project.artifacts.read_bytes(result.output("count_files", "total").digest) == b"5"


def test_deleted_artifact_is_a_cache_miss(project: Project) -> None:
    first = project.run(three_steps())
    summary = first.output("Summarise", "summary")
    stored = Path(summary.uri)
    stored.chmod(0o644)
    stored.unlink()

    again = project.run(three_steps())

    assert again.names("cached") == ["generate", "scale"]
    assert again.names("succeeded") == ["Summarise"]
    assert stored.exists()


def test_code_version_is_recorded_in_a_git_checkout(
    make_project: MakeProject, tmp_path: Path
) -> None:
    import subprocess

    folder = tmp_path / "repo"
    folder.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    (folder / "code.py").write_text("x = 1\n")
    subprocess.run(["git", "add", "."], cwd=folder, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"],
        cwd=folder,
        check=True,
    )
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
    ).stdout.strip()
    project = make_project(folder=folder)

    clean = project.run(three_steps())
    (folder / "code.py").write_text("x = 2\n")
    dirty = project.run(three_steps())

    assert (clean.run.code_version, clean.run.code_dirty) == (commit, False)
    assert (dirty.run.code_version, dirty.run.code_dirty) == (commit, True)


def test_a_step_claimed_by_a_live_run_waits_and_takes_over_when_that_run_fails(
    project: Project,
) -> None:
    other = project.store.start_run(
        "other", params={}, code_version=None, code_dirty=None, environment={}
    )
    key = fingerprint(c.generate.spec, {"count": 3, "start": 0}, {})
    assert project.store.claim_step(key, other.id)
    seen: list[str] = []

    def observe(result: StepResult) -> None:
        seen.append(result.status)
        if result.status == "waiting":
            project.store.finish_run(other.id, status="failed", error="gave up")

    result = project.run(Pipeline("claimed", [c.generate(count=3)]), observer=observe)

    assert seen == ["waiting", "running", "succeeded"]
    assert result.steps["generate"].status == "succeeded"
    (execution,) = project.run_steps(result.run.id)
    assert execution.fingerprint == key


CONCURRENT_RUN = """
import json, sys
from pathlib import Path
from shipyard import Pipeline, Project
from tests.pipeline import components as c

root, folder, me = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
once = c.executes_once(
    log_file=str(folder / "executions.log"), wait_for=str(folder / "*.executes_once.waiting")
)
summary = c.Summarise(numbers=once.outputs.numbers)

def observe(result):
    (folder / f"{me}.{result.name}.{result.status}").touch()

with Project.open(root) as project:
    result = project.run(Pipeline("twice", [once, summary]), observer=observe)
print(json.dumps({name: [s.status, s.cached_from] for name, s in result.steps.items()}))
"""


def test_identical_runs_started_together_execute_each_step_once(
    project: Project, tmp_path: Path
) -> None:
    folder = tmp_path / "signals"
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or os.getcwd() for p in sys.path)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_RUN, str(project.root), str(folder), me],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for me in ("a", "b")
    ]
    outcomes = []
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        outcomes.append(json.loads(out))

    assert len((folder / "executions.log").read_text().splitlines()) == 1
    statuses = sorted(outcome["executes_once"][0] for outcome in outcomes)
    assert statuses == ["cached", "succeeded"]
    waited = [path.name for path in folder.glob("*.executes_once.waiting")]
    assert len(waited) == 1
    owner = next(o for o in outcomes if o["executes_once"][0] == "succeeded")
    follower = next(o for o in outcomes if o["executes_once"][0] == "cached")
    assert follower["Summarise"][0] == "cached"
    assert owner["Summarise"][0] == "succeeded"
    runs_seen = project.runs()
    assert [r.status for r in runs_seen] == ["succeeded", "succeeded"]


def test_a_step_knows_its_fingerprint_workers_and_working_folder(
    make_project: MakeProject,
) -> None:
    from shipyard.errors import PipelineError
    from shipyard.pipeline import current_step

    project = make_project(workers=3)
    first = project.run(Pipeline("remember", [c.remember(note="a")]), cache=False)
    second = project.run(Pipeline("remember", [c.remember(note="a")]), cache=False)
    other = project.run(Pipeline("remember", [c.remember(note="b")]), cache=False)
    seen = [
        json.loads(read_output(project, result.output("remember", "seen").digest))
        for result in (first, second, other)
    ]
    (execution,) = project.run_steps(first.run.id)
    assert seen[0]["fingerprint"] == execution.fingerprint
    assert seen[0]["workers"] == 3
    # The folder belongs to the fingerprint: kept across runs, another one for other params.
    assert [s["runs"] for s in seen] == [1, 2, 1]
    assert seen[0]["folder"] == seen[1]["folder"] != seen[2]["folder"]
    assert Path(seen[0]["folder"]).is_relative_to(project.root / ".shipyard")
    with pytest.raises(PipelineError, match="call it in one"):
        current_step()


def test_a_step_gets_the_standby_it_asked_for_which_ends_with_the_run(
    project: Project, tmp_path: Path
) -> None:
    pid_file = tmp_path / "standby.pid"

    def pipeline() -> Pipeline:
        numbers = c.generate(count=3)
        return Pipeline(
            "standby",
            [numbers, c.UsesStandby(numbers=numbers.outputs.numbers, pid_file=str(pid_file))],
        )

    result = project.run(pipeline())

    assert result.succeeded
    pid = int(pid_file.read_text())
    seen = json.loads(read_output(project, result.output("UsesStandby", "seen").digest))
    assert seen == {"standby": str(pid), "alive": True}
    assert process_ended(pid)
    # A fully cached run executes nothing, and starts no standby.
    pid_file.unlink()
    cached = project.run(pipeline())
    assert cached.names("cached") == ["generate", "UsesStandby"]
    assert not pid_file.exists()


def test_a_standby_ends_with_a_run_whose_steps_failed(project: Project, tmp_path: Path) -> None:
    flag = tmp_path / "broken"
    flag.write_text("")
    pid_file = tmp_path / "standby.pid"
    numbers = c.generate(count=3)
    broken = c.fragile(numbers=numbers.outputs.numbers, flag_file=str(flag))
    user = c.UsesStandby(numbers=broken.outputs.passed, pid_file=str(pid_file))

    result = project.run(Pipeline("standby", [numbers, broken, user]))

    assert result.steps["UsesStandby"].status == "skipped"
    assert process_ended(int(pid_file.read_text()))
