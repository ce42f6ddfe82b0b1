"""A process's end: what is alive is frozen, and sketches in garbage cycles go first."""

from __future__ import annotations

from tests.helpers import run_python


def test_a_process_that_froze_sketches_in_a_cycle_ends_without_a_leak_report() -> None:
    script = (
        "import gc\n"
        "from datasketches import hll_sketch, kll_doubles_sketch\n"
        "from shipyard.lifetime import freeze_survivors\n"
        "class Holder: pass\n"
        "holder = Holder()\n"
        "holder.me, holder.sketches = holder, [hll_sketch(12), kll_doubles_sketch(200)]\n"
        "del holder\n"
        "freeze_survivors()\n"
        "assert gc.get_freeze_count() > 0\n"
        "print('ended')\n"
    )
    result = run_python(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ended\n"
    assert result.stderr == ""
