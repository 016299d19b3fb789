"""Background threads give way to the editor's main thread for the GIL while they run Python; their CPU priority
is a setting (BACKGROUND), now left as it is: lowered, they crawled behind every other busy process."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

# How many nice steps a background thread (the editor's render, its jobs, the frame proxies) steps down: none.
# A lowered thread competes badly with every other process on the machine, and an unprivileged process can never
# raise it back. Measured with tests/benchmarks/bench_render_priority.py (first-clip in the editor, 2 cores, load
# 3-4 from other work, OpenMP waits sleeping): with two busy processes the render took 59 s at nice 10, 16 s at
# nice 4 and 7.5 s at nice 0 (as `studio render` runs), and at nice 10 the main thread stalled more, not less
# (tick-gap p99 75 ms, max 171, against 35 and 52): a lowered thread that holds the GIL waits for a CPU behind the
# other processes while the main thread waits for the GIL. With torch on 2 threads: 65 s against 8 s, p99 30
# against 35 ms, max 128 against 55. With nothing else busy the nice value changed little (2.4-2.7 s; p99 21 ms at
# nice 10, 25 at 0; bench_editor's render-stall p99 21 against 25 ms, under its 33 ms target). The editor stays
# fluid through the short switch interval below, coalesced progress events and OpenMP's sleeping waits.
# lower_this_thread reads it at each call (the benchmark sets it).
BACKGROUND = 0


def lower_this_thread(steps: int | None = None) -> bool:
    """Lower the calling thread's CPU priority by ``steps`` (default: BACKGROUND, read at the call), and so
    that of the threads it starts; True if done.

    Only on Linux, where a thread's nice value is its own (elsewhere it would slow the whole app).
    """
    steps = BACKGROUND if steps is None else steps
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

