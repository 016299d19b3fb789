"""Import the heavy stack (torch, diffusers, transformers, PyAV, c2pa) ahead of the first render, safely.

The editor starts this a second after its window is up, so the first render does not spend most of its
time importing. transformers and diffusers load their classes lazily on attribute access, and that is not
safe from two threads at once (a second thread sees a half-built module: "cannot import name
'PreTrainedModel' from 'transformers'"), so anything that imports that stack off the main thread (the
engine's worker) calls :func:`settle` first and waits for a warm-up in progress to finish.
"""

from __future__ import annotations

import importlib
import logging
import threading

log = logging.getLogger(__name__)

_lock = threading.Lock()
_running: threading.Thread | None = None


def start(modules: tuple[str, ...], *, lower_priority: bool = True) -> threading.Thread:
    """Import ``modules`` ("package" or "package:Name,Other") on a background thread; returns it.

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
            for spec in modules:
                module, _, names = spec.partition(":")
                try:
                    imported = importlib.import_module(module)
                    for name in filter(None, names.split(",")):
                        getattr(imported, name)  # lazy modules (diffusers, transformers) load on access
                except Exception:  # noqa: BLE001 - a missing or broken package: the render will say which
                    log.debug("warm-up import of %s failed", spec, exc_info=True)

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
