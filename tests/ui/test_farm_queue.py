"""The editor's queue on a farm: with the Queue panel's target on "Farm: local Ray", a batch of seeds renders
on a real local Ray (two workers, the embedded model), the editor never waiting for Ray to start, and each
render's progress and outcome shows in the queue."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the farm tests need Ray: pip install 'studio[farm]'")

from studio.engine.jobs import parse_seeds, variations  # noqa: E402
from studio.graph import NodeRegistry  # noqa: E402
from studio.paths import RESOURCES  # noqa: E402
from studio.ui.panels.queue_panel import CANCEL  # noqa: E402
from studio.ui.shell.queue import CANCELLED, DONE, ENDED, RUNNING  # noqa: E402

pytestmark = pytest.mark.slow
EXAMPLE = RESOURCES / "examples" / "first-clip.studio.json"


@pytest.fixture
def registry() -> NodeRegistry:
    return NodeRegistry.default()


def small_farm(address, **options):
    from studio.farm import Farm

    return Farm(address, num_cpus=2, torch_threads=1, **options)


def test_a_batch_of_seeds_renders_on_a_local_farm_while_the_editor_stays_responsive(window, qtbot, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # a local test cluster: no token files in the real home
    path = tmp_path / "shot.studio.json"
    shutil.copy(EXAMPLE, path)
    assert window.open_path(path, confirmed=True)
    window.session.set_param("generate", "steps", 1)
    renderer = window.renderer
    renderer.farm_factory = small_farm
    start = time.perf_counter()
    window.queue_panel.set_target("local")  # Ray starts now, on the farm's own thread
    made = renderer.submit(variations=variations(window.session.graph, window.registry, parse_seeds("1-3")))
    assert time.perf_counter() - start < 1.0  # Ray takes seconds to start: none of them on the main thread
    assert [e.where for e in made] == ["local"] * 3 and not renderer.running  # nothing on this machine's engine
    assert window.queue_panel.target.currentData() == "local"
    assert "starting the farm" in window.queue_panel.farm_note.text()
    seen = []
    renderer.queue.changed.connect(lambda e: seen.append((e.number, e.state, e.step, e.total)))
    qtbot.waitUntil(lambda: made[0].state == RUNNING, timeout=90_000)
    window.queue_panel.table.cellWidget(2, CANCEL).click()  # the third row's ✕: that render only
    qtbot.waitUntil(lambda: all(e.state in ENDED for e in made), timeout=120_000)
    assert [e.state for e in made] == [DONE, DONE, CANCELLED], [e.message for e in made]
    assert "ready" in window.queue_panel.farm_note.text()
    assert any(state == RUNNING and total > 0 for _n, state, _s, total in seen)  # progress came back
    assert any(e.preview is not None for e in made[:2])  # and the clip as it took shape, for the row's strip
    names = [Path(e.written[0]).name for e in made[:2]]
    assert names == [f"first-clip_seed{s}.mp4" for s in (1, 2)]
    assert all(Path(e.written[0]).is_file() for e in made[:2]) and not made[2].written
    assert window.queue_panel._bars[made[0].number].format().startswith("done")
    window.queue_panel.set_target("")  # back to this machine: the next render runs here
    renderer.close_farms()
    assert not renderer.farms
