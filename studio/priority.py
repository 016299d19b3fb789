"""Background threads give way to the editor's main thread: for the CPU when a render or an export fills the
cores, and for the GIL while they run Python."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

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


# How long a thread running Python keeps the GIL while another thread waits for it (CPython's default: 5 ms).
# While the editor's warm-up imports the model stack (module bodies are Python), the main thread waited that long
# again and again for each of the many times a repaint enters Python: gaps of 35-70 ms, p99 over 33 ms from
# launch (tests/benchmarks/bench_editor.py --batch). At 0.5 ms the waits shrink tenfold; the cost is only paid
# while another thread actually waits, and a render's torch work lets go of the GIL anyway.
SHORT_SWITCH_S = 0.0005

_switch_lock = threading.Lock()
_switch_holds = 0
_switch_before = 0.0


def hold_short_switch() -> Callable[[], None]:
    """Shorten the interpreter's switch interval to SHORT_SWITCH_S until the returned function is called (it
    may be called more than once, from any thread). Holds overlap: the interval from before the first comes
    back when the last ends."""
    global _switch_holds, _switch_before
    with _switch_lock:
        if _switch_holds == 0:
            _switch_before = sys.getswitchinterval()
            sys.setswitchinterval(min(SHORT_SWITCH_S, _switch_before))
        _switch_holds += 1
    released = threading.Event()

    def release() -> None:
        global _switch_holds
        with _switch_lock:
            if released.is_set():
                return
            released.set()
            _switch_holds -= 1
            if _switch_holds == 0:
                sys.setswitchinterval(_switch_before)

    return release

