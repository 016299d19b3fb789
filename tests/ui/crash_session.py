"""A child process for the recovery tests: edit a graph, wait for the autosave, then die hard.

With ``--hold`` it prints the recovery file's path and keeps running (an editor someone else is using)
until a line arrives on stdin, and only then dies."""

from __future__ import annotations

import os
import signal
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    from PySide6.QtCore import QPointF

    from studio.ui.shell.app import application
    from studio.ui.shell.window import MainWindow
    from tests.ui.conftest import ui_registry

    app = application()
    window = MainWindow(ui_registry(), autosave_ms=100)
    window.show()
    a = window.editing.add_node(window.registry.get("test.Number"), QPointF(0, 0))
    b = window.editing.add_node(window.registry.get("test.Add"), QPointF(300, 0))
    window.session.edit("link", lambda g: g.connect(a, "value", b, "a"))
    window.session.set_param(a, "value", 42.0)
    deadline = time.monotonic() + 10
    while not window.autosaver.info_file.exists() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    print(window.autosaver.graph_file, flush=True)
    if "--hold" in sys.argv:
        sys.stdin.readline()
    os.kill(os.getpid(), signal.SIGKILL)  # no clean shutdown: the recovery file stays behind


if __name__ == "__main__":
    sys.exit(main())
