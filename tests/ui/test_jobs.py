"""The background-job helper: work off the main thread, signals on it, cancel, a sentence on failure."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject

from studio.errors import StudioError
from studio.ui.shell.jobs import BackgroundJob


def run(qtbot, job: BackgroundJob) -> list:
    seen: list = []
    job.progress.connect(lambda d, t: seen.append(("progress", d, t)))
    job.succeeded.connect(lambda v: seen.append(("ok", v, threading.current_thread() is threading.main_thread())))
    job.failed.connect(lambda why: seen.append(("failed", why)))
    job.cancelled.connect(lambda: seen.append(("cancelled",)))
    job.finished.connect(lambda: seen.append(("finished",)))
    job.start()
    qtbot.waitUntil(lambda: bool(seen) and seen[-1] == ("finished",), timeout=5000)
    return seen


def test_the_result_arrives_on_the_main_thread_with_at_most_a_hundred_progress_updates(qtbot):
    where = []

    def work(ctx):
        where.append(threading.current_thread() is threading.main_thread())
        for k in range(1, 10_001):
            ctx.progress(k, 10_000)
        return 42

    seen = run(qtbot, BackgroundJob(work, "test"))
    assert where == [False]
    assert seen[-2:] == [("ok", 42, True), ("finished",)]
    updates = [s for s in seen if s[0] == "progress"]
    assert 90 <= len(updates) <= 101 and updates[-1] == ("progress", 10_000, 10_000)


def test_failures_become_sentences_and_cancel_is_honoured(qtbot):
    def bad_input(_ctx):
        raise StudioError("node 'export': the folder is read-only", hint="choose another folder")

    seen = run(qtbot, BackgroundJob(bad_input, "test"))
    assert seen[0][0] == "failed" and "read-only" in seen[0][1]
    seen = run(qtbot, BackgroundJob(lambda _ctx: open("/nonexistent/dir/x", "rb"), "test"))
    assert seen[0][0] == "failed" and "/nonexistent/dir/x" in seen[0][1] and "Traceback" not in seen[0][1]
    go = threading.Event()

    def slow(ctx):
        go.wait(5)
        ctx.check()
        return "not cancelled"

    job = BackgroundJob(slow, "test")
    job.cancel()
    go.set()
    assert run(qtbot, job)[0] == ("cancelled",)


def test_no_signal_reaches_a_deleted_owner(qtbot):
    owner = QObject()
    go = threading.Event()
    job = BackgroundJob(lambda _ctx: go.wait(5), "test", parent=owner)
    job.start()
    owner.deleteLater()  # the dialog closed while the work runs
    qtbot.wait(50)
    go.set()
    assert job.thread.join(5) is None and not job.thread.is_alive()  # ended without touching the dead object
