"""The end of a shipyard process: what is alive then is frozen, not collected.

The interpreter's exit runs garbage collections that walk every object of every loaded
module (SQLAlchemy's, pydantic's, scikit-learn's): a quarter of a second of a read-only
command, 1.5 s of a worker that loaded scikit-learn.  Frozen objects are left to the
operating system instead.  Objects outside reference cycles are still released at exit;
finalizers in cycles may not run, which Python never promises at exit (the files and
databases shipyard opens are closed by their ``with`` blocks).
"""

from __future__ import annotations

import gc
import sys

__all__ = ["freeze_survivors"]


def freeze_survivors() -> None:
    """Freeze the objects alive now, for a process about to end.

    Garbage cycles are collected first when datasketches is loaded: its bindings report
    each sketch still alive when the interpreter ends as a leak, and a sketch in a frozen
    cycle would print hundreds of lines after the command's last.
    """
    if "_datasketches" in sys.modules:
        gc.collect()
    gc.freeze()
