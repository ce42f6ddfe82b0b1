"""Load a model package in a fresh process and time single-row predictions.

Run as ``python -m shipyard.modeling.infra PACKAGE_DIR ROWS_JSON REQUESTS``: it loads the
package, sends each canned row (cycling) through ``ModelPackage.predict_rows`` — the path
the server uses — and prints one JSON line with the load time and latency percentiles.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["InfraReport", "probe_in_fresh_process"]


@dataclass(frozen=True)
class InfraReport:
    loaded: bool
    load_seconds: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    requests: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe_in_fresh_process(
    package: Path, rows: list[dict[str, Any]], *, requests: int, timeout: float = 300
) -> InfraReport:
    """Load ``package`` in a new Python process and measure it serving ``rows``."""
    rows_file = package.parent / f".infra-rows-{time.monotonic_ns()}.json"
    try:
        rows_file.write_text(json.dumps(rows, default=str))
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "shipyard.modeling.infra",
                str(package),
                str(rows_file),
                str(requests),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return InfraReport(loaded=False, error=f"the model did not answer within {timeout:.0f} s")
    finally:
        rows_file.unlink(missing_ok=True)
    if completed.returncode != 0:
        lines = completed.stderr.strip().splitlines()
        return InfraReport(loaded=False, error=lines[-1] if lines else "the process failed")
    return InfraReport(**json.loads(completed.stdout.strip().splitlines()[-1]))


def _main(arguments: list[str]) -> int:
    started = time.perf_counter()
    from shipyard.modeling.package import ModelPackage

    package = ModelPackage.load(Path(arguments[0]))
    rows = json.loads(Path(arguments[1]).read_text())
    requests = int(arguments[2])
    load_seconds = time.perf_counter() - started
    package.predict_rows(rows[:1])  # the first call builds per-column plans
    latencies = []
    for index in range(requests):
        row = rows[index % len(rows)]
        begin = time.perf_counter()
        package.predict_rows([row])
        latencies.append((time.perf_counter() - begin) * 1000)
    report = InfraReport(
        loaded=True,
        load_seconds=load_seconds,
        p50_ms=float(np.percentile(latencies, 50)),
        p99_ms=float(np.percentile(latencies, 99)),
        requests=requests,
    )
    print(json.dumps(report.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
