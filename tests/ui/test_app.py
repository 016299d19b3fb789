"""Start-up: PySide6's import scan narrowed to Studio's modules, and the background warm-up imports."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading

from studio.ui.shell import import_scan
from studio.ui.shell.app import warm_up


def _import_file(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_third_party_modules_are_not_read_for_pyside_features(tmp_path):
    from shibokensupport import feature

    assert import_scan.install()
    (tmp_path / "thirdparty_widgets.py").write_text("# uses PySide6\nVALUE = 1\n")
    (tmp_path / "studio_like.py").write_text("# uses PySide6\nVALUE = 2\n")
    try:
        # PySide6 itself would have read this file, found "PySide6" and marked it 0 (switchable)
        assert not feature._mod_uses_pyside(_import_file(tmp_path / "thirdparty_widgets.py", "thirdparty_widgets"))
        # Studio's own modules are still scanned as PySide6 does
        own = _import_file(tmp_path / "studio_like.py", "tests.studio_like_probe")
        assert feature._mod_uses_pyside(own)
    finally:
        sys.modules.pop("thirdparty_widgets", None)
        sys.modules.pop("tests.studio_like_probe", None)


def test_warm_up_imports_at_normal_priority_and_leaves_failures_to_the_render(tmp_path, monkeypatch):
    # Normal priority: the first render waits for this thread, and a lowered one starved on a busy machine
    # (89 s of imports instead of 10 with two busy processes on 2 cores).
    # a module that notes the priority of the thread importing it
    (tmp_path / "warm_probe.py").write_text("import os\nNICE = os.getpriority(os.PRIO_PROCESS, 0)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("warm_probe", None)
    thread = warm_up(("warm_probe:NICE,no_such_name", "studio_no_such_module", "wave"))
    assert thread.name == "studio-warm-up" and thread.daemon
    thread.join(30)
    assert not thread.is_alive()
    assert "warm_probe" in sys.modules and "wave" in sys.modules  # one failure does not stop the rest
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if sys.platform.startswith("linux"):
        assert sys.modules["warm_probe"].NICE == mine
    sys.modules.pop("warm_probe", None)
