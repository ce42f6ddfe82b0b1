"""A small pipeline of three custom components: run it twice to see caching.

shipyard init
shipyard run examples/demo_pipeline.py:pipeline
shipyard run examples/demo_pipeline.py:pipeline      # every step cached
shipyard lineage run:2
"""

from __future__ import annotations

import json
import random

from shipyard import Component, Dataset, Input, Metrics, Output, Pipeline, component


@component
def generate(numbers: Output[Dataset], *, count: int = 1000, seed: int = 7) -> None:
    """Draw ``count`` random numbers."""
    rng = random.Random(seed)
    numbers.path.write_text(json.dumps([rng.gauss(10, 3) for _ in range(count)]))
    numbers.properties["rows"] = count


@component
def scale(numbers: Input[Dataset], scaled: Output[Dataset], *, factor: float = 2.0) -> None:
    """Multiply every number by ``factor``."""
    values = json.loads(numbers.path.read_text())
    scaled.path.write_text(json.dumps([value * factor for value in values]))


class Summarise(Component):
    """Mean, minimum and maximum of a list of numbers."""

    numbers: Input[Dataset]
    summary: Output[Metrics]

    def run(self) -> None:
        values = json.loads(self.numbers.path.read_text())
        summary = {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}
        self.summary.path.write_text(json.dumps(summary))
        self.summary.properties.update(summary)


def pipeline() -> Pipeline:
    numbers = generate(count=1000)
    scaled = scale(numbers=numbers.outputs.numbers, factor=2.5)
    summary = Summarise(numbers=scaled.outputs.scaled)
    return Pipeline("numbers", [numbers, scaled, summary])
