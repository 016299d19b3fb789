"""Import the heavy stack (torch, diffusers, transformers, PyAV, c2pa) ahead of the first render, safely.

The editor starts this a second after its window is up, so the first render does not spend most of its
time importing. transformers and diffusers load their classes lazily on attribute access, and that is not
safe from two threads at once (a second thread sees a half-built module: "cannot import name
'PreTrainedModel' from 'transformers'"), so anything that imports that stack off the main thread (the
engine's worker) calls :func:`settle` first and waits for a warm-up in progress to finish.

Importing torch loads its 430 MB C++ library, whose static initialisers (thousands of operator registrations)
run inside ``dlopen``; Python's import holds the GIL through it, and the editor froze 150-700 ms. So the warm-up
first loads those libraries through libc's ``dlopen`` called by ctypes, which lets go of the GIL for the call:
the work happens while the main thread keeps painting, and torch's own import then finds them loaded.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import importlib.util
import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

_lock = threading.Lock()
_running: threading.Thread | None = None
_gc_state = {"paused": False, "frozen": False}

# Native libraries a package loads on import, in load order, by package: loaded first without the GIL.
# Only those whose initialisers never call into Python (libtorch_python's do: it is left to the import).
NATIVE = {"torch": ("lib/libc10.so", "lib/libtorch_cpu.so")}


def preload_native(packages: tuple[str, ...] = tuple(NATIVE)) -> list[str]:
    """Load the native libraries of ``packages`` not yet imported, with the GIL released (Linux); returns the
    files loaded. Anything unexpected (another platform, a moved file) leaves the work to the import."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen  # a foreign call: ctypes releases the GIL around it (ctypes.CDLL itself does not)
        dlopen.restype, dlopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]
    except (OSError, AttributeError):
        return []
    loaded = []
    for package in packages:
        if package in sys.modules:
            continue
        spec = importlib.util.find_spec(package)  # finds the folder without running the package
        folders = list(spec.submodule_search_locations or []) if spec is not None else []
        for name in NATIVE.get(package, ()):
            path = os.path.join(folders[0], name) if folders else ""
            # RTLD_LOCAL, as the import would load them: the import reuses the loaded copy, symbols unchanged
            if path and os.path.isfile(path) and dlopen(path.encode(), os.RTLD_NOW | os.RTLD_LOCAL):
                loaded.append(path)
            else:
                break  # a later library needs the earlier ones: the import does the rest
    return loaded


# OpenMP's threads (torch's intra-op pool) spin for a while after each parallel region, waiting for the next
# (libgomp: 300,000 turns by default). When another process takes one of the cores, the spinning thread holds a
# core the working one needs, and `studio demo` took 75 s instead of 8 (tests/benchmarks/bench_first_clip.py,
# variants two-threads-spin and two-threads: torch's 2 threads, load average 3, 2 cores; its generate node 70 s
# against 2.6). The render lowers the threads on a busy machine (fit_cpu_threads), but from the one-minute load
# average, which lags: a machine that turned busy just before the render (load 0.2 read) took 38 s to generate.
# Sleeping waits (OMP_WAIT_POLICY=PASSIVE) fixed that but cost a quiet machine 0.9 s of the demo's 2.5 s
# generate (demo 7.9-8.4 s against 6.8-7.3), each of the many small parallel regions waking its threads by a
# system call. A short spin keeps both: 10,000 turns gave 7.0 s quiet (as the default) and 13.7-15.3 s beside two
# busy processes (sleeping: 11.5-13.7; the default spin about 60 s). libgomp reads it once, when torch loads it.
OMP_SPIN = ("GOMP_SPINCOUNT", "10000")


def short_spin_waits() -> bool:
    """Ask OpenMP for short spinning waits unless the person chose a wait policy or spin count; only before
    torch is imported (libgomp reads it when it loads) and only from a process's main thread before it starts
    others (setting the environment races with threads reading it). Returns whether it was set."""
    name, value = OMP_SPIN
    if name in os.environ or "OMP_WAIT_POLICY" in os.environ or "torch" in sys.modules:
        return False
    os.environ[name] = value
    return True


def start(modules: tuple[str, ...], *, lower_priority: bool = True, preload: bool = True) -> threading.Thread:
    """Import ``modules`` ("package" or "package:Name,Other") on a background thread; returns it.

    ``preload``: load the native libraries of NATIVE first, without the GIL (see the module's docstring).
    A warm-up already running is returned instead of starting a second. Failures are only logged: the
    render that needs the module reports them where the person looks.
    """
    global _running
    with _lock:
        if _running is not None and _running.is_alive():
            return _running

        def work() -> None:
            if lower_priority:
                from studio.priority import lower_this_thread

                lower_this_thread()
            if preload:
                try:
                    preload_native()
                except Exception:  # noqa: BLE001 - the import below loads them the usual way
                    log.debug("preloading native libraries failed", exc_info=True)
            from studio.priority import hold_short_switch

            # The editor keeps painting while this imports: full collections over the growing heap held the GIL
            # 0.1-1 s each (5-6 of them), and module bodies are Python, which kept the GIL 5 ms at a time.
            paused, switch_back = pause_gc(), hold_short_switch()
            try:
                for spec in modules:
                    module, _, names = spec.partition(":")
                    try:
                        imported = importlib.import_module(module)
                        for name in filter(None, names.split(",")):
                            getattr(imported, name)  # lazy modules (diffusers, transformers) load on access
                    except Exception:  # noqa: BLE001 - a missing or broken package: the render will say which
                        log.debug("warm-up import of %s failed", spec, exc_info=True)
            finally:
                switch_back()
                if paused:
                    resume_gc()

        _running = threading.Thread(target=work, name="studio-warm-up", daemon=True)
        _running.start()
        return _running


def settle(timeout: float | None = None) -> bool:
    """Wait for a warm-up in progress (if any) to finish; False if it is still running after ``timeout``.

    Called from the thread that is about to import the same stack; never from the warm-up thread itself.
    """
    with _lock:
        running = _running
    if running is None or running is threading.current_thread():
        return True
    running.join(timeout)
    return not running.is_alive()


# --- the cyclic garbage collector while the stack loads ---------------------------------------------------
# Importing torch, diffusers and transformers creates about 800,000 objects that live as long as the process:
# modules, classes, functions. The collector walks all of them in each full collection it starts while they
# pile up (7 during the first clip's imports; 0.35 s each once all are there), which was 0.4-1.2 s of CPU
# of the 5-6 s import (tests/benchmarks/bench_first_clip.py). A command that loads a model at once pauses it
# until the model is loaded, then freezes what exists by then (not walked again until the render is over)
# and collects as usual after that.


def pause_gc() -> bool:
    """Pause cyclic garbage collection until :func:`resume_gc` (reference counting still frees memory at
    once; only objects in reference cycles wait). Returns whether this call paused it."""
    with _lock:
        if _gc_state["paused"] or not gc.isenabled():
            return False
        gc.disable()
        _gc_state["paused"] = True
        return True


def resume_gc() -> None:
    """End a :func:`pause_gc`: what was made meanwhile (the imported stack, a loaded model) is moved out of the
    collector's way (``gc.freeze``), and collection resumes. Does nothing without a pause, so the model
    loader may call it whoever started it."""
    with _lock:
        if not _gc_state["paused"]:
            return
        gc.freeze()
        gc.enable()
        _gc_state["paused"], _gc_state["frozen"] = False, True


def end_gc_pause() -> None:
    """When the work the pause was for is over (a render finished): resumed if still paused, and the frozen
    objects collectable again, so a long-lived process (a batch of renders) leaks nothing that died since."""
    resume_gc()
    with _lock:
        if _gc_state["frozen"]:
            gc.unfreeze()
            _gc_state["frozen"] = False
