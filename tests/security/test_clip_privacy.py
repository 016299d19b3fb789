"""What a signed clip reveals about the person's files: ingredients by the name the graph gave (never a name
resolved through links, never a folder), and a thumbnail no larger than the person chose."""

from __future__ import annotations

import io
import json

import c2pa
import numpy as np
import pytest
from PIL import Image

from studio.graph import Graph, NodeRegistry, load_graph, save_graph
from studio.media.export import ExportOptions, export_clip
from studio.media.provenance import Provenance, offline_context


@pytest.fixture
def linked_picture(tmp_path):
    """photo.png in the project, a link to a file whose real name and folder are private."""
    private = tmp_path / "private-folder-of-jane"
    private.mkdir()
    real = private / "IMG_2231-jane-passport.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (1200, 900, 3), dtype=np.uint8)).save(real)
    project = tmp_path / "project"
    project.mkdir()
    link = project / "photo.png"
    link.symlink_to(real)
    return link


def _manifest(path):
    with open(path, "rb") as fh, c2pa.Reader("video/mp4", fh, context=offline_context()) as reader:
        data = json.loads(reader.json())
        active = data["manifests"][data["active_manifest"]]
        thumbs = []
        for ingredient in active.get("ingredients", []):
            if ingredient.get("thumbnail"):
                out = io.BytesIO()
                reader.resource_to_stream(ingredient["thumbnail"]["identifier"], out)
                thumbs.append(Image.open(io.BytesIO(out.getvalue())).size)
        return active, thumbs


@pytest.mark.parametrize(("pixels", "longest"), [(256, 256), (0, None), (1024, 1024)])
def test_ingredient_thumbnail_is_the_chosen_size(tmp_path, linked_picture, pixels, longest):
    frames = np.zeros((8, 64, 64, 3), np.uint8)
    result = export_clip(
        frames, 8, tmp_path / "clip.mp4",
        provenance=Provenance("m", ingredients=[str(linked_picture)]),
        options=ExportOptions(thumbnail=pixels),
    )
    active, thumbs = _manifest(result.path)
    assert [i["title"] for i in active["ingredients"]] == ["photo.png"]
    if longest is None:
        assert thumbs == []
    else:
        assert len(thumbs) == 1 and max(thumbs[0]) == longest
    data = result.path.read_bytes()
    assert b"IMG_2231" not in data and b"private-folder" not in data and b"jane" not in data


def test_a_graph_keeps_the_name_it_was_given_for_a_linked_picture(tmp_path, linked_picture):
    registry = NodeRegistry.default()
    g = Graph()
    g.add_node(registry.get("studio.ReferenceImage"), "ref", params={"path": str(linked_picture)})
    path = linked_picture.parent / "g.studio.json"
    save_graph(g, path, registry)
    assert json.loads(path.read_text())["nodes"][0]["params"]["path"] == "photo.png"
    loaded = load_graph(path, registry)
    assert loaded.nodes["ref"].params["path"].endswith("/photo.png")  # not resolved to the private name
