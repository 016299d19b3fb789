"""A guard against a reference-count bug in the installed PySide6 that crashes long sessions."""

# PySide6 6.12 as installed here returns None (and sometimes True or False) from many methods
# without taking a reference: every ``painter.setPen(...)``, ``item.setPos(...)`` or
# ``signal.emit(...)`` drops one reference to that singleton. On Python 3.11 those singletons are
# not immortal, so after some hundred thousand calls (a minute of painting a large graph) the
# interpreter aborts with "deallocating None". Python 3.12 made them immortal; on older
# interpreters we give them a reference count no session can exhaust. The probe keeps this off
# where the bindings behave.

from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 50  # drops of one reference each: more than any session will make
_applied = False


def _bindings_drop_references() -> bool:
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(50):
        probe.setObjectName("probe")
    return sys.getrefcount(None) < before - 25


def install() -> bool:
    """Give None, True and False headroom when needed; True when it did (once per process)."""
    global _applied
    if _applied or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return _applied
    if not _bindings_drop_references():
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += _HEADROOM
    _applied = True
    return True


install()
