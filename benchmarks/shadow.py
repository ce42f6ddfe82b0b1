"""What a shadow costs the primary: throughput and p99 with and without a shadow.

One ``shipyard serve`` process answers single-row Ames requests from wrk (one thread, 64
connections by default).  The runs alternate: the model alone, then with a shadow
deployment of a second version holding the same package (so the shadow does exactly
the primary's work, on a copy of every request), and so on, ``--rounds`` times; the
median of each is compared.  The server's deployment is changed through the Python API
between runs, and the server follows it without a restart.  The target (issue 9): with
the shadow, throughput at least 0.7x and p99 at most 1.3x of the primary alone.

Run it with shipyard's virtualenv; it needs wrk (installed for you when you are root):

    .venv/bin/python benchmarks/shadow.py
    .venv/bin/python benchmarks/shadow.py --project ames-project --duration 10 --rounds 3

Without ``--project`` it makes a ``shipyard quickstart`` project first (minutes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import (  # noqa: E402  (the serving benchmark's harness, beside this file)
    MODEL_NAME,
    BenchmarkError,
    Measurement,
    console,
    ensure_wrk,
    free_port,
    ms,
    parse_wrk,
    post_json,
    prepare_shipyard,
    run_wrk,
    running,
    shipyard_command,
    wait_quiet,
    write_bodies,
)

TARGET_THROUGHPUT = 0.7
TARGET_P99 = 1.3


def shadow_version(project_folder: Path) -> int:
    """A second version of the model holding production's very package: the shadow."""
    from shipyard.project import Project

    with Project.open(project_folder) as project:
        production = project.registry.find(MODEL_NAME, "production")
        if production is None:
            raise BenchmarkError(f"{MODEL_NAME} has no production version in {project_folder}")
        for record in project.registry.versions(MODEL_NAME):
            if record.version != production.version and record.package.id == production.package.id:
                return record.version
        record = project.registry.register(
            MODEL_NAME, package_id=production.package.id, blessed=True, infra_validated=True
        )
        return record.version


def set_shadow(project_folder: Path, version: int | None, *, percent: float) -> int | None:
    """Deploy ``version`` as a shadow of ``percent``% (None: roll any deployment back);
    returns the deployment id."""
    from shipyard.project import Project

    with Project.open(project_folder) as project:
        deployments = project.deployments
        if deployments.current(MODEL_NAME) is not None:
            deployments.rollback(MODEL_NAME, reason="shadow benchmark")
        if version is None:
            return None
        record = deployments.deploy(
            MODEL_NAME, version, strategy="shadow", percent=percent, reason="shadow benchmark"
        )
        return record.id


def wait_following(base_url: str, deployment: int | None, *, timeout: float = 30.0) -> None:
    """Wait until the server serves ``deployment`` (None: none)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(base_url + "/v2", timeout=5) as answer:
            models = json.loads(answer.read())["models"]
        shown = next((m.get("deployment") for m in models if m["name"] == MODEL_NAME), None)
        if (shown is None and deployment is None) or (
            shown is not None and shown["id"] == deployment and shown["candidate_loaded"]
        ):
            return
        time.sleep(0.1)
    raise BenchmarkError(f"the server did not follow deployment {deployment} in {timeout} s")


def shadow_counts(base_url: str) -> dict[str, float]:
    """The server's shadow predictions and dropped rows so far, from /metrics."""
    with urllib.request.urlopen(base_url + "/metrics", timeout=5) as answer:
        text = answer.read().decode()
    found = {"shadow": 0.0, "dropped": 0.0}
    for line in text.splitlines():
        if line.startswith("shipyard_predictions_total{") and "shadow" in line:
            found["shadow"] += float(line.rsplit(" ", 1)[1])
        if line.startswith("shipyard_shadow_dropped_rows_total{"):
            found["dropped"] += float(line.rsplit(" ", 1)[1])
    return found


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, help="serve this shipyard project, no quickstart")
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rows", type=int, default=1, help="rows per request")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each, alternating")
    parser.add_argument("--percent", type=float, default=100.0, help="share copied to shadow")
    parser.add_argument("--timeout", type=int, default=30, help="wrk's per-request timeout, s")
    parser.add_argument("--quiet", type=float, default=0.15)
    parser.add_argument("--quiet-wait", type=float, default=60)
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, folder: Path) -> int:
    ensure_wrk()
    body = write_bodies(folder, [args.rows])["instances"][args.rows]
    if args.project is not None:
        project = args.project.resolve()
    else:
        with console.status("shipyard quickstart: training the Ames model..."):
            project = prepare_shipyard(folder, folder / "quickstart.log")
    version = shadow_version(project)
    set_shadow(project, None, percent=args.percent)
    port = free_port()
    command = [shipyard_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--reload-seconds", "2"]
    results: dict[str, list[Measurement]] = {"alone": [], "shadow": []}
    with running(
        "shipyard", command, port=port, ready_path="/v2/health/ready",
        log=folder / "server.log", cwd=project,
    ) as server:  # fmt: skip
        url = server.base_url + "/predict"
        post_json(url, body.read_bytes())
        for index in range(args.rounds):
            for mode in ("alone", "shadow"):
                deployment = set_shadow(
                    project, version if mode == "shadow" else None, percent=args.percent
                )
                wait_following(server.base_url, deployment)
                if args.warmup:
                    run_wrk(url, body, concurrency=8, duration=args.warmup, timeout=args.timeout)
                server.wait_idle()
                wait_quiet(threshold=args.quiet, limit=args.quiet_wait)
                before = shadow_counts(server.base_url)
                done = run_wrk(
                    url, body, concurrency=args.concurrency, duration=args.duration,
                    timeout=args.timeout,
                )  # fmt: skip
                server.wait_idle()
                after = shadow_counts(server.base_url)
                result = parse_wrk(
                    done.stdout, server=f"shipyard {mode}", rows=args.rows,
                    concurrency=args.concurrency,
                )  # fmt: skip
                results[mode].append(result)
                shadowed = after["shadow"] - before["shadow"]
                dropped = after["dropped"] - before["dropped"]
                console.print(
                    f"  round {index + 1}, {mode:6}: {result.requests_per_s:,.0f} req/s, "
                    f"p50 {ms(result.latency_ms.get('p50'))}, "
                    f"p99 {ms(result.latency_ms.get('p99'))}, errors {result.errors}"
                    + (f"; shadow answered {shadowed:,.0f} rows, dropped {dropped:,.0f}"
                       if mode == "shadow" else "")
                )  # fmt: skip
        set_shadow(project, None, percent=args.percent)

    def median(mode: str, figure: str) -> float:
        values = [
            r.requests_per_s if figure == "rps" else r.latency_ms["p99"] for r in results[mode]
        ]
        return statistics.median(values)

    throughput = median("shadow", "rps") / median("alone", "rps")
    p99 = median("shadow", "p99") / median("alone", "p99")
    console.print(
        f"[bold]{args.rows}-row requests, {args.concurrency} connections, median of "
        f"{args.rounds}[/]: alone {median('alone', 'rps'):,.0f} req/s, p99 "
        f"{ms(median('alone', 'p99'))}; with a {args.percent:g}% shadow "
        f"{median('shadow', 'rps'):,.0f} req/s, p99 {ms(median('shadow', 'p99'))}: "
        f"throughput {throughput:.2f}x (target >= {TARGET_THROUGHPUT}), p99 {p99:.2f}x "
        f"(target <= {TARGET_P99})"
    )
    report: dict[str, Any] = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "runs": {
            mode: [
                {"requests_per_s": r.requests_per_s, "latency_ms": r.latency_ms, "errors": r.errors}
                for r in runs
            ]
            for mode, runs in results.items()
        },  # fmt: skip
        "throughput_ratio": throughput,
        "p99_ratio": p99,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    errors = sum(r.errors for runs in results.values() for r in runs)
    met = throughput >= TARGET_THROUGHPUT and p99 <= TARGET_P99
    return 0 if met and not errors else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="shipyard-shadow-bench-") as folder:
            return run(args, Path(folder))
    except BenchmarkError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
