"""Hostile graph files: megabytes of prompt text and names made of escape codes are refused before any work."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from nodes.inputs import SCHEDULE_MAX_CHARS
from studio import paths
from studio.cli import main
from studio.errors import GraphFileError, MediaError
from studio.graph import NodeRegistry, Problem, load_graph
from studio.graph.spec import MAX_TEXT_CHARS, printable
from studio.paths import RESOURCES

EXAMPLE = RESOURCES / "examples" / "first-clip.studio.json"
FIVE_MB = 5_000_000
ESC = "\x1b"
# c2pa-python 0.38.1 refuses a manifest whose JSON (json.dumps: ASCII, so a non-ASCII character costs 6 bytes,
# one outside the BMP 12) is longer than this, with "StringTooLong: manifest_json". Measured by bisection:
# 1,048,576 bytes sign, 1,048,577 do not.
C2PA_MANIFEST_LIMIT = 1_048_576


def _example() -> dict:
    return json.loads(EXAMPLE.read_text())


def _node(doc: dict, node_id: str) -> dict:
    return next(n for n in doc["nodes"] if n["id"] == node_id)


def _write(tmp_path: Path, doc: dict, name: str = "hostile.studio.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert ESC not in out + err, "raw escape codes reached the terminal"
    return code, out, err


# ---- text that would end in the C2PA manifest -----------------------------------------------------------


@pytest.mark.parametrize(
    "param, value, expected",
    [
        ("prompt", "a" * FIVE_MB, "parameter 'prompt': holds 5,000,000 characters; at most 4,000 are allowed"),
        ("negative_prompt", "b" * FIVE_MB,
         "parameter 'negative_prompt': holds 5,000,000 characters; at most 4,000 are allowed"),
        ("schedule", [{"time": 1.0, "prompt": "c" * FIVE_MB}],
         "parameter 'schedule': entry 1 'prompt' holds 5,000,000 characters; a text may hold at most 4,000"),
        ("schedule", [{"time": float(i), "prompt": "d" * 3_999} for i in range(1, 12)],
         "parameter 'schedule': holds more than 40,000 characters of text in all (at entry 11 'prompt')"),
    ],
    ids=["prompt", "negative", "schedule-entry", "schedule-total"],
)
def test_validate_refuses_oversized_prompt_text_naming_the_cap(capsys, tmp_path, param, value, expected):
    doc = _example()
    _node(doc, "text")["params"][param] = value
    started = time.perf_counter()
    code, out, _ = _cli(capsys, "validate", _write(tmp_path, doc))
    assert code == 1
    assert f"node 'text', {expected}" in out
    assert time.perf_counter() - started < 5


def test_render_refuses_a_5_mb_prompt_before_any_work(capsys, tmp_path):
    doc = _example()
    _node(doc, "text")["params"]["prompt"] = ("a red circle " * (FIVE_MB // 13 + 1))[:FIVE_MB]
    path = _write(tmp_path, doc)
    code, _, err = _cli(capsys, "render", path, "-q")
    assert code == 2
    assert "node 'text', parameter 'prompt': holds 5,000,000 characters; at most 4,000 are allowed" in err
    # Nothing ran: the embedded model's stand-in was never built and no clip was written.
    assert not (paths.cache_dir() / "models" / "random-wan").exists()
    assert not list(tmp_path.rglob("*.mp4"))


def test_a_prompt_at_the_cap_is_accepted(capsys, tmp_path):
    doc = _example()
    _node(doc, "text")["params"]["prompt"] = "é" * MAX_TEXT_CHARS
    _node(doc, "text")["params"]["schedule"] = [
        {"time": float(i), "prompt": "x" * (SCHEDULE_MAX_CHARS // 10)} for i in range(1, 11)
    ]
    code, out, _ = _cli(capsys, "validate", _write(tmp_path, doc))
    assert code == 0 and "OK" in out


def test_set_override_with_a_huge_prompt_is_refused(capsys, tmp_path):
    path = _write(tmp_path, _example())
    code, _, err = _cli(capsys, "render", path, "--set", "text.prompt=" + "z" * 10_000)
    assert code == 2 and "holds 10,000 characters; at most 4,000 are allowed" in err


def _tiny_mp4(path: Path) -> Path:
    from studio.media.encode import encode_video

    encode_video(np.zeros((2, 32, 32, 3), np.uint8), 8, path)
    return path


def test_the_largest_manifest_the_caps_allow_still_signs(tmp_path):
    """Every text that reaches the manifest at its cap, in the costliest characters, signs with real c2pa;
    one byte past c2pa's limit does not: the limit the caps are sized against is real."""
    from studio.media.provenance import Provenance, build_manifest, sign_mp4
    from studio.media.signing import local_identity

    emoji = "\U0001f600"  # 12 bytes each in c2pa's JSON (a surrogate pair of \\u escapes)
    prompt = negative = emoji * MAX_TEXT_CHARS
    # The schedule's sections repeat the node's prompt first; all of them, as if the manifest listed them.
    sections = [prompt] + [emoji * MAX_TEXT_CHARS] * (SCHEDULE_MAX_CHARS // MAX_TEXT_CHARS)
    destination = tmp_path / ("é" * 120 + ".mp4")  # a file name near the 255-byte limit
    provenance = Provenance(
        model_name=emoji * MAX_TEXT_CHARS,  # a Hugging Face source id, at the text cap
        model_hash="0" * 32,
        prompts=[prompt, negative, *sections],
        seed=2**31 - 1,
        settings={"steps": 500, "guidance": 20.0, "size": "1280x720", "num_frames": 2881, "fps": 24.0},
        graph_hash="f" * 64,
    )
    manifest = build_manifest(
        provenance, title=destination.name, instance_id="xmp:iid:" + "0" * 36, watermark_payload=b"\xff" * 8,
        ingredient_labels=[],
    )
    size = len(json.dumps(manifest).encode())
    assert size < 0.7 * C2PA_MANIFEST_LIMIT, size
    source = _tiny_mp4(tmp_path / "src.mp4")
    identity = local_identity()
    sign_mp4(source, destination, provenance, identity, instance_id="xmp:iid:1", watermark_payload=b"\xff" * 8)
    assert destination.stat().st_size > source.stat().st_size

    # One byte past the limit: c2pa refuses (this is the failure a 5 MB prompt met at the very end).
    probe = Provenance(model_name="m", prompts=["a"])
    base = len(json.dumps(build_manifest(probe, title="out.mp4", instance_id="x", watermark_payload=None,
                                         ingredient_labels=[])).encode())
    for extra, fits in ((C2PA_MANIFEST_LIMIT - base, True), (C2PA_MANIFEST_LIMIT - base + 1, False)):
        probe = Provenance(model_name="m", prompts=["a" * (1 + extra)])
        out = tmp_path / "out.mp4"
        out.unlink(missing_ok=True)
        if fits:
            sign_mp4(source, out, probe, identity, instance_id="x", watermark_payload=None)
        else:
            with pytest.raises(MediaError, match="c2pa takes at most 1,048,576"):
                sign_mp4(source, out, probe, identity, instance_id="x", watermark_payload=None)


# ---- names made of escape codes -------------------------------------------------------------------------

CLEAR_SCREEN = ESC + "[2J" + ESC + "[H"


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: d["nodes"][0].update(id=CLEAR_SCREEN),
         "node #1: its 'id' '\\x1b[2J\\x1b[H' has a control character (U+001B) at character 1"),
        (lambda d: d["nodes"][1].update(type="studio.Text" + ESC + "]0;pwned\x07"),
         "node 'text': its 'type' 'studio.Text\\x1b]0;pwned\\x07' has a control character (U+001B) at "
         "character 12"),
        (lambda d: d["nodes"][1].update(title="Prompt\u202egnp.exe"),
         "node 'text': its 'title' 'Prompt\\u202egnp.exe' has a control character (U+202E) at character 7"),
        (lambda d: d["nodes"][1]["params"].update({"pro" + ESC + "mpt": "x"}),
         "node 'text': the parameter name 'pro\\x1bmpt' has a control character (U+001B) at character 4"),
        (lambda d: d["links"][0].update({"to": ["generate", "model" + CLEAR_SCREEN]}),
         "link #1: the port name in 'to' 'model\\x1b[2J\\x1b[H' has a control character (U+001B) at "
         "character 6"),
        (lambda d: d["links"][0].update({"from": [CLEAR_SCREEN, "model"]}),
         "link #1: the node id in 'from' '\\x1b[2J\\x1b[H' has a control character (U+001B) at character 1"),
        (lambda d: d.update(groups=[{"id": "g", "title": "Shots\r\nrm -rf", "rect": [0, 0, 1, 1]}]),
         "group #1: its 'title' 'Shots\\r\\nrm -rf' has a control character (U+000D) at character 6"),
    ],
    ids=["node-id", "type", "title-bidi", "param-name", "port-name", "link-node", "group-title"],
)
def test_control_characters_in_names_are_refused_at_load(capsys, tmp_path, change, expected):
    doc = _example()
    change(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(GraphFileError) as info:
        load_graph(path, NodeRegistry.default())
    assert expected in str(info.value)
    for command in ("validate", "render"):
        code, _, err = _cli(capsys, command, path)
        assert code == 2 and expected in err


def test_free_text_with_escape_codes_is_escaped_in_validate_output(capsys, tmp_path):
    doc = _example()
    _node(doc, "model")["params"]["source"] = CLEAR_SCREEN + "/models/wan"
    _node(doc, "text")["params"]["prompt"] = "a cat" + ESC + "]2;owned" + "\x07"
    code, out, _ = _cli(capsys, "validate", _write(tmp_path, doc))
    assert code == 1
    assert "node 'model', parameter 'source': has a control character (U+001B) at character 1" in out
    assert "node 'text', parameter 'prompt': has a control character (U+001B) at character 6" in out


def test_line_breaks_and_tabs_stay_allowed_in_prompts(capsys, tmp_path):
    doc = _example()
    _node(doc, "text")["params"]["prompt"] = "a red circle\n\tmoves left\r\n"
    code, out, _ = _cli(capsys, "validate", _write(tmp_path, doc))
    assert code == 0 and "OK" in out


def test_problems_print_escaped_whatever_made_them():
    problem = Problem(CLEAR_SCREEN, "parameter '" + ESC + "'", "bad \u202e value" + "\x9b", "bad_value")
    text = str(problem)
    assert text == "node '\\x1b[2J\\x1b[H', parameter '\\x1b': bad \\u202e value\\x9b"
    assert printable("plain ümlaut 文字 😀") == "plain ümlaut 文字 😀"


def test_a_title_typed_with_control_characters_saves_as_a_file_that_opens_again(tmp_path):
    """The editor's rename box takes a pasted tab, newline or escape; the saved file must still load."""
    from studio.graph import Group, save_graph

    registry = NodeRegistry.default()
    graph = load_graph(EXAMPLE, registry)
    graph.update_node("text", title="Shot\t1\n" + CLEAR_SCREEN)
    graph.set_groups([Group("g", "Act\r\nOne", (0.0, 0.0, 10.0, 10.0))])
    path = tmp_path / "renamed.studio.json"
    save_graph(graph, path, registry)
    again = load_graph(path, registry)
    assert again.nodes["text"].title == "Shot\\t1\\n\\x1b[2J\\x1b[H"
    assert again.groups[0].title == "Act\\r\\nOne"


def test_a_manifest_too_large_for_c2pa_is_refused_before_signing_with_a_sentence(tmp_path):
    import numpy as np

    from studio.errors import MediaError
    from studio.media.export import export_clip
    from studio.media.provenance import Provenance

    with pytest.raises(MediaError, match=r"c2pa takes at most 1,048,576"):
        export_clip(np.zeros((4, 32, 32, 3), np.uint8), 8, tmp_path / "big.mp4",
                    provenance=Provenance("m", prompts=["x" * 1_100_000]))
    assert list(tmp_path.iterdir()) == []


def test_a_pasted_name_loses_its_control_characters(qtbot, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QInputDialog

    from studio.graph import load_graph as load
    from studio.graph import save_graph
    from studio.ui.shell import files
    from studio.ui.shell.window import MainWindow

    monkeypatch.setattr(files, "ask_save", lambda *a: "discard")
    window = MainWindow(NodeRegistry.default(), timeline=False)
    qtbot.addWidget(window)
    window.session.edit("add", lambda g: g.add_node(window.registry.get("studio.Text"), node_id="text"))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("my\x1b[2J\tprompt\x07", True))
    window.editing.rename("node", "text")
    assert window.session.graph.nodes["text"].title == "my[2J prompt"
    save_graph(window.session.graph, tmp_path / "g.studio.json", window.registry)
    assert load(tmp_path / "g.studio.json", window.registry).nodes["text"].title == "my[2J prompt"
