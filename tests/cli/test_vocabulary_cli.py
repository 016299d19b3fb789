"""The command line shows a model's vocabulary (`studio models`) and warns about the words a render drops."""

from __future__ import annotations

import json
import shutil

import pytest

from studio.cli import main
from studio.paths import RESOURCES
from studio.runtime.vocabulary import VOCABULARY_FILE, read_vocabulary, tokenizer_words, write_vocabulary


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_wan):
    """Two tiny Wan folders side by side: one ships a vocabulary (as the embedded model does), one does not."""
    root = tmp_path_factory.mktemp("cli-models")
    plain = root / "plain-wan"
    shutil.copytree(tiny_wan, plain)
    worded = root / "worded-wan"
    shutil.copytree(plain, worded)
    write_vocabulary(worded, tokenizer_words(worded), {"colours": ["red", "green", "blue"]})
    return root


def test_models_lists_the_vocabulary_of_a_model_that_has_one(capsys, models):
    code, out, _ = run_cli(capsys, "models", models)
    assert code == 0
    blocks = out.split("\n")
    # the embedded model (first) ships its list; its words come grouped
    words = read_vocabulary(RESOURCES / "models" / "studio-tiny").words
    assert blocks[0].startswith("studio-tiny") and blocks[1].startswith(f"    knows {len(words)} words")
    assert "      colours: red, green, blue, yellow" in out
    assert "      shapes: circle, square, triangle" in out
    plain = next(i for i, line in enumerate(blocks) if line.startswith("plain-wan"))
    worded = next(i for i, line in enumerate(blocks) if line.startswith("worded-wan"))
    assert blocks[plain + 1].startswith("worded-wan")  # a folder without a list: no vocabulary lines
    assert blocks[worded + 1].startswith("    knows ") and blocks[worded + 2] == "      colours: red, green, blue"


def test_models_escapes_a_vocabulary_from_disk(capsys, models, tmp_path):
    shady = tmp_path / "shady"
    shutil.copytree(models / "plain-wan", shady)
    (shady / VOCABULARY_FILE).write_text(json.dumps({"words": ["red", "\x1b[2Jgone"]}))
    code, out, _ = run_cli(capsys, "models", shady)
    assert code == 0 and "\x1b" not in out and "\\x1b[2Jgone" in out


def test_render_warns_naming_the_unknown_words_and_the_nearest_known(capsys, models, tmp_path):
    graph = {
        "format": "studio.graph", "version": 1,
        "nodes": [
            {"id": "model", "type": "studio.LoadModel", "params": {"source": str(models / "worded-wan")}},
            {"id": "text", "type": "studio.Text", "params": {"prompt": "a zebra gallops in the bleu sea",
                                                            "negative_prompt": "blury"}},
            {"id": "generate", "type": "studio.GenerateVideo",
             "params": {"num_frames": 9, "width": 32, "height": 32, "steps": 1, "preview": False}},
            {"id": "preview", "type": "studio.Preview", "params": {}},
        ],
        "links": [{"from": ["model", "model"], "to": ["generate", "model"]},
                  {"from": ["text", "prompt"], "to": ["generate", "prompt"]},
                  {"from": ["generate", "video"], "to": ["preview", "video"]}],
    }
    path = tmp_path / "words.studio.json"
    path.write_text(json.dumps(graph))
    code, _, err = run_cli(capsys, "render", path, "-q")
    assert code == 0, err
    assert ("warning: node 'generate': the model 'worded-wan' ignores words it does not know: "
            'prompt: "zebra", "gallops", "bleu" (did you mean "blue"?); negative prompt: "blury"') in err
    assert "It knows: colours red, green, blue; other words" in err
