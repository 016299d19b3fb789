"""Found on a real display: the editor opened as `studio GRAPH` showed no "shot 4/6 'lift': rendering (why)"
lines in its log, so nobody could tell which shots a re-render ran: the root logger's WARNING level (the CLI
sets INFO only for its subcommands) dropped the nodes' INFO records before the panel's handler saw them."""

from __future__ import annotations

import logging
import threading

import pytest

from studio.ui.shell.logdock import LogPanel


@pytest.fixture
def plain_logging():
    """Logging as a fresh `studio GRAPH` process has it: root at WARNING, our loggers unset."""
    root, ours = logging.getLogger(), [logging.getLogger(n) for n in ("studio", "nodes")]
    saved = root.level, [logger.level for logger in ours]
    root.setLevel(logging.WARNING)
    for logger in ours:
        logger.setLevel(logging.NOTSET)
    yield
    root.setLevel(saved[0])
    for logger, level in zip(ours, saved[1], strict=True):
        logger.setLevel(level)


def test_info_lines_of_the_nodes_reach_the_log_from_a_render_thread(qtbot, plain_logging):
    panel = LogPanel()
    qtbot.addWidget(panel)
    try:
        line = "shot 4/6 'lift': rendering (its prompt changed)"
        worker = threading.Thread(target=lambda: logging.getLogger("nodes.sequence").info("%s", line))
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: line in panel.log.toPlainText(), timeout=2000)
        logging.getLogger("studio.engine.cache").info("cache: evicted x")
        qtbot.waitUntil(lambda: "cache: evicted x" in panel.log.toPlainText(), timeout=2000)
        logging.getLogger("transformers").info("not ours")  # other libraries stay as quiet as they were
        logging.getLogger("nodes.sequence").debug("too fine")
        qtbot.wait(50)
        assert "not ours" not in panel.log.toPlainText() and "too fine" not in panel.log.toPlainText()
    finally:
        panel.detach_logging()
