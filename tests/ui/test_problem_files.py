"""Problems lists a file a node reads that is not there (checked off the main thread), not "ready to render"."""

from __future__ import annotations

from studio.graph import dumps
from tests.ui.conftest import settle


def problems(window) -> list[str]:
    window.refresh_problems()
    assert window.checker.wait_idle()
    settle()
    box = window.logs.problems
    return [box.item(i).text() for i in range(box.count())]


def test_a_missing_input_file_is_a_problem_until_it_exists(window, tmp_path):
    picture = tmp_path / "cat.png"
    window.session.edit("Add", lambda g: g.add_node(window.registry.get("uitest.Picture"), "pic"))
    assert problems(window) == ["No problems: the graph is ready to render."]  # no file chosen: nothing to look for
    window.session.set_param("pic", "path", str(picture))
    found = problems(window)
    assert len(found) == 1 and "node 'pic', path" in found[0] and "does not exist" in found[0]
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert problems(window) == ["No problems: the graph is ready to render."]
    window.session.set_param("pic", "path", str(tmp_path))
    assert "is a folder, not a file" in problems(window)[0]


def test_a_relative_name_is_looked_for_beside_the_saved_graph(window, tmp_path):
    window.session.edit("Add", lambda g: g.add_node(window.registry.get("uitest.Picture"), "pic",
                                                     params={"path": "shots/cat.png"}))
    graph_file = tmp_path / "scene.studio.json"
    graph_file.write_text(dumps(window.session.graph, window.registry), encoding="utf-8")
    assert window.open_path(graph_file, confirmed=True)
    assert "does not exist" in problems(window)[0]
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    assert problems(window) == ["No problems: the graph is ready to render."]
