"""Walking boosted trees in native code: the kernel of the compiled boosted models.

A forest is one table of nodes.  Node ``k`` tests ``row[column[k]] <= threshold[k]`` and
sends the row to ``children[k, 0]`` when that holds and to ``children[k, 1]`` when not
(a NaN never holds).  A leaf is its own two children, so a row that reached one stays
there, and each tree is walked as many steps as its deepest leaf is deep.

The walk goes tree by tree and, within a tree, one level at a time over every row of the
batch: the rows' paths do not depend on each other, so the processor follows many of
them at once instead of waiting on each node's memory in turn (twice as fast as taking
each row through each tree, ``benchmarks/predictor.py``).  Each tree's leaf value is
added to its output in tree order, in float64: the additions scikit-learn makes, in its
order, so the sums agree bit for bit.

numba compiles the kernel on first use and keeps it on disk for later processes.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["load_kernel", "walk"]


@numba.njit(nogil=True, cache=True)
def walk(rows, column, threshold, children, values, roots, depths, output, raw):  # type: ignore[no-untyped-def]
    """Add the value of the leaf each row of ``rows`` reaches in each tree to
    ``raw[row, output[tree]]``."""
    n = rows.shape[0]
    node = np.empty(n, dtype=np.intp)
    for tree in range(roots.shape[0]):
        for r in range(n):
            node[r] = roots[tree]
        for _ in range(depths[tree]):
            for r in range(n):
                k = node[r]
                node[r] = children[k, 0 if rows[r, column[k]] <= threshold[k] else 1]
        target = output[tree]
        for r in range(n):
            raw[r, target] += values[node[r]]


def load_kernel() -> None:
    """Load ``walk``'s machine code now (numba reads it from its disk cache, or compiles
    it), so that the first prediction does not wait for it: half a second.

    It loads the variant of models with one output per iteration (regressors, binary
    classifiers); a multi-class model's output array is laid out otherwise and loads its
    own on first use.
    """
    index = np.zeros(0, dtype=np.intp)
    numbers = np.zeros(0, dtype=np.float64)
    walk(
        np.zeros((0, 0), dtype=np.float64),
        index,
        numbers,
        np.zeros((0, 2), dtype=np.intp),
        numbers,
        index,
        index,
        index,
        np.zeros((0, 1), dtype=np.float64, order="F"),
    )
