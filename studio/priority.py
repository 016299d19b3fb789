"""Background threads give way to the editor's main thread when a render or an export fills the cores."""

from __future__ import annotations

import os
import sys
import threading

# How many nice steps a background thread steps down: enough that the main thread wins the CPU at once
# on two busy cores (render-stall p99 in tests/benchmarks/bench_editor.py), while the work itself runs
# as fast as ever when nothing else wants the CPU.
BACKGROUND = 10


def lower_this_thread(steps: int = BACKGROUND) -> bool:
    """Lower the calling thread's CPU priority, and so that of the threads it starts; True if done.

    Only on Linux, where a thread's nice value is its own (elsewhere it would slow the whole app).
    """
    if steps <= 0 or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + steps))
    except OSError:
        return False
    return True
