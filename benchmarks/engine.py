"""Pipeline engine overhead: a 50-step pipeline of trivial components.

Reports, on SQLite and on PostgreSQL, (a) the engine's overhead per executed step — the
wall time of an uncached run of a chain of steps that each do almost nothing, divided by
the number of steps — and (b) the wall time of the fully cached re-run.

    python benchmarks/engine.py                      # SQLite only
    python benchmarks/engine.py --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shipyard import Dataset, Input, Output, Pipeline, Project, component
from shipyard.config import CONFIG_FILE, ProjectConfig, StoreSettings


@component
def first(out: Output[Dataset], *, seed: int = 0) -> None:
    out.path.write_text(str(seed))


@component
def increment(previous: Input[Dataset], out: Output[Dataset]) -> None:
    out.path.write_text(str(int(previous.path.read_text()) + 1))


def chain(steps: int, seed: int) -> Pipeline:
    nodes = [first(seed=seed)]
    for index in range(1, steps):
        nodes.append(increment(previous=nodes[-1].outputs.out).named(f"step_{index:02d}"))
    return Pipeline("chain", nodes)


def measure(url: str, *, steps: int, repeats: int, workers: int) -> dict[str, float]:
    uncached: list[float] = []
    cached: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        config = ProjectConfig(name="bench", store=StoreSettings(database=url))
        config.pipeline.workers = workers
        (root / CONFIG_FILE).write_text(config.to_yaml())
        with Project.open(root) as project:
            project.run(chain(steps, seed=-10_000))  # warm up: imports, pool, connections
            for repeat in range(repeats):
                # Seeds far apart: steps whose input bytes were seen before would be cached.
                pipeline = chain(steps, seed=(repeat + 1) * 10_000)
                started = time.perf_counter()
                result = project.run(pipeline)
                uncached.append(time.perf_counter() - started)
                assert len(result.names("succeeded")) == steps, result.run.error
                started = time.perf_counter()
                again = project.run(chain(steps, seed=(repeat + 1) * 10_000))
                cached.append(time.perf_counter() - started)
                assert len(again.names("cached")) == steps
    return {
        "per_step_ms": statistics.median(uncached) / steps * 1000,
        "uncached_s": statistics.median(uncached),
        "cached_s": statistics.median(cached),
    }


def postgres_schema(url: str) -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False), schema


def drop_schema(url: str, schema: str) -> None:
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", help="PostgreSQL URL to measure as well")
    args = parser.parse_args()
    console = Console()
    table = Table(title=f"engine overhead, {args.steps}-step chain, median of {args.repeats}")
    for column in ("store", "overhead per step", "uncached run", "fully cached re-run"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as folder:
        backends = [("SQLite", f"sqlite:///{folder}/bench.db")]
        schema = None
        if args.postgres:
            scoped, schema = postgres_schema(args.postgres)
            backends.append(("PostgreSQL", scoped))
        try:
            for label, url in backends:
                # No live spinner: its thread would make the runner spawn, not fork.
                console.print(f"measuring {label}...")
                numbers = measure(url, steps=args.steps, repeats=args.repeats, workers=args.workers)
                table.add_row(
                    label,
                    f"{numbers['per_step_ms']:.1f} ms",
                    f"{numbers['uncached_s']:.2f} s",
                    f"{numbers['cached_s']:.3f} s",
                )
        finally:
            if args.postgres and schema:
                drop_schema(args.postgres, schema)
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
