"""Export records (``.studio-history/exports``) that point outside the output folder, through a link, or that
someone else wrote: Studio never claims or reads a file by them, and writes the clip again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from studio.engine import Engine, records
from studio.engine.outputs import OutputPolicy
from tests.engine.test_export_records import clip, make_graph


@pytest.fixture(scope="module")
def registry():
    from studio.graph import NodeRegistry

    reg = NodeRegistry.default()
    reg.register(clip)
    return reg


def render(registry, out: Path):
    result = Engine(registry).run(make_graph(registry), outputs=OutputPolicy(root=out))
    assert result.ok, result.failed
    return result


def the_record(out: Path) -> Path:
    found = list((out / records.STUDIO_FOLDER / records.EXPORTS).glob("*.json"))
    assert len(found) == 1
    return found[0]


def rewrite(record: Path, change, sign: bool = True) -> None:
    data = json.loads(record.read_text())
    data.pop("mac")
    change(data)
    data["mac"] = records._mac(data) if sign else "0" * 64
    record.write_text(json.dumps(data))


def rename_to(name: str):
    def change(data):
        data["files"][0]["name"] = name
        data["outputs"]["path"] = name
    return change


@pytest.mark.parametrize("where", ["../elsewhere/shots.mp4", "ABSOLUTE", "link/shots.mp4"])
def test_a_record_naming_a_file_outside_the_output_folder_is_not_followed(registry, tmp_path, where):
    out = tmp_path / "renders"
    first = Path(render(registry, out).outputs["export"]["path"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = elsewhere / "shots.mp4"
    shutil.copy2(first, outside)  # the very bytes the record's digest names
    first.unlink()
    (out / "link").symlink_to(elsewhere, target_is_directory=True)
    # signed with this user's own secret: even a record Studio would trust stays inside the folder
    rewrite(the_record(out), rename_to(str(outside) if where == "ABSOLUTE" else where))

    again = render(registry, out)
    written = Path(again.outputs["export"]["path"])
    assert "export" not in again.cached and written.parent == out.resolve()
    assert not str(written).startswith(str(elsewhere)) and "link" not in written.parts


def test_a_record_someone_else_wrote_is_not_trusted(registry, tmp_path):
    out = tmp_path / "renders"
    render(registry, out)
    # a graph shared with its renders folder: the record names the right bytes but is not this user's
    rewrite(the_record(out), lambda data: None, sign=False)
    again = render(registry, out)
    assert Path(again.outputs["export"]["path"]).name == "shots_0002.mp4"


def test_a_linked_records_folder_is_not_read(registry, tmp_path):
    out = tmp_path / "renders"
    render(registry, out)
    store = out / records.STUDIO_FOLDER / records.EXPORTS
    moved = tmp_path / "moved-exports"
    store.rename(moved)
    store.symlink_to(moved, target_is_directory=True)
    again = render(registry, out)
    assert Path(again.outputs["export"]["path"]).name == "shots_0002.mp4"
