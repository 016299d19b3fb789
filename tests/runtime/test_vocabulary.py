"""A model's vocabulary from its folder's metadata: the words its tokenizer would drop, warned about by name."""

from __future__ import annotations

import json
import shutil

import pytest

from studio.engine import Engine, NodeWarning
from studio.graph import NodeRegistry
from studio.paths import RESOURCES
from studio.runtime.vocabulary import (
    VOCABULARY_FILE,
    read_vocabulary,
    tokenizer_words,
    unknown_words_warning,
    write_vocabulary,
)
from studio.values import Prompt, PromptSchedule
from tests.graphs import text_to_video

EMBEDDED = RESOURCES / "models" / "studio-tiny"
REGENERATE = ("the model's words changed: regenerate its list with `python -m studio.runtime.vocabulary "
              "resources/models/studio-tiny --group colours=red,green,blue,yellow --group shapes=circle,square,"
              "triangle --group motion=moves,left,right,up,down,grows,shrinks --group backgrounds=black,gray,white,"
              "navy` (the groups as studio.embedded.world names them)")


@pytest.fixture(scope="module")
def vocabulary():
    found = read_vocabulary(EMBEDDED)
    assert found is not None, f"{EMBEDDED / VOCABULARY_FILE} is missing"
    return found


def test_shipped_file_lists_exactly_the_words_the_embedded_tokenizer_and_world_know(vocabulary):
    from studio.embedded import world

    assert list(vocabulary.words) == tokenizer_words(EMBEDDED), REGENERATE
    assert set(vocabulary.words) == set(world.vocabulary()), REGENERATE
    groups = dict(vocabulary.groups)
    assert groups["colours"] == tuple(world.OBJECT_COLOURS)
    assert groups["shapes"] == tuple(world.SHAPES)
    assert groups["backgrounds"] == tuple(world.BACKGROUND_COLOURS)
    # every word sits in one group, so `studio models` shows them all
    assert sorted(w for _, words in vocabulary.groups for w in words) == sorted(vocabulary.words)


def test_words_called_unknown_are_the_ones_the_tokenizer_maps_to_its_unknown_token(vocabulary):
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast.from_pretrained(EMBEDDED / "tokenizer", local_files_only=True)
    prompt = "A purple horse gallops, then a Bleu square moves LEFT on a grey background"
    unknown = {u.word for u in vocabulary.unknown_words(prompt)}
    assert unknown == {"purple", "horse", "gallops", "then", "bleu", "grey"}
    ids = tokenizer(prompt.lower())["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    dropped = {w for w, t in zip(tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(prompt.lower()),
                                 tokens, strict=False) if t == tokenizer.unk_token}
    assert {w for w, _ in dropped} - {","} == unknown


def test_nearest_known_words_are_offered(vocabulary):
    found = {u.word: u.nearest for u in vocabulary.unknown_words("bleu sqare moving grey purple an")}
    assert found == {"bleu": ("blue",), "sqare": ("square",), "moving": ("moves",), "grey": ("gray",),
                     "purple": (), "an": ()}


def test_warning_names_each_text_of_a_schedule_and_the_negative(vocabulary):
    schedule = PromptSchedule("a red square", "bleu blur", sections=((0.0, "a red square"),
                                                                   (2.0, "a purple circle moves left")), blend=0.5)
    message = unknown_words_warning(vocabulary, "studio-tiny", schedule)
    assert 'prompt from 2 s: "purple"' in message
    assert 'negative prompt: "bleu" (did you mean "blue"?), "blur"' in message
    assert "colours red, green, blue, yellow" in message
    assert unknown_words_warning(vocabulary, "studio-tiny", Prompt("A Red square moves LEFT.")) is None
    assert unknown_words_warning(None, "a-real-model", Prompt("a purple horse gallops")) is None


def test_broken_or_missing_file_means_no_check(tmp_path, caplog):
    assert read_vocabulary(tmp_path) is None
    (tmp_path / VOCABULARY_FILE).write_text(json.dumps({"words": "red green"}))
    assert read_vocabulary(tmp_path) is None
    assert "ignored" in caplog.text


def test_write_refuses_groups_with_words_the_model_lacks(tmp_path):
    with pytest.raises(ValueError, match="purple"):
        write_vocabulary(tmp_path, ["red", "green"], {"colours": ["red", "purple"]})
    write_vocabulary(tmp_path, ["red", "green", "a"], {"colours": ["red", "green"]})
    assert dict(read_vocabulary(tmp_path).groups) == {"colours": ("red", "green"), "other words": ("a",)}


@pytest.fixture(scope="module")
def tiny_with_vocabulary(tiny_folder, tmp_path_factory):
    """A tiny Wan folder (word-level tokenizer) that ships a vocabulary, as the embedded model does."""
    folder = tmp_path_factory.mktemp("vocab") / "tiny-wan-words"
    shutil.copytree(tiny_folder("wan"), folder)
    write_vocabulary(folder, tokenizer_words(folder))
    return folder


def _warnings(graph) -> list[NodeWarning]:
    seen: list = []
    result = Engine(NodeRegistry.default()).run(graph, listener=lambda e: isinstance(e, NodeWarning) and seen.append(e))
    assert result.ok, result.failed
    return seen


def test_generate_warns_about_unknown_words_only_for_a_model_with_a_vocabulary(tiny_with_vocabulary, tiny_folder):
    registry = NodeRegistry.default()
    graph = text_to_video(registry, tiny_with_vocabulary, steps=1, preview=False,
                          prompt="a zebra gallops under a bleu sky")
    warned = _warnings(graph)
    assert [w.node_id for w in warned] == ["generate"]
    assert 'prompt: "zebra", "gallops", "bleu" (did you mean "blue"?).' in warned[0].message
    assert "and 50 more" in warned[0].message  # a long flat list is cut: `studio models` shows it whole
    assert "zebra" not in "".join(w.message for w in _warnings(text_to_video(
        registry, tiny_with_vocabulary, steps=1, preview=False, prompt="a red cat under the blue sky")))
    # the same words with a folder that ships no list (any real model): nothing to check, no warning
    assert _warnings(text_to_video(registry, tiny_folder("wan"), steps=1, preview=False,
                                   prompt="a purple horse gallops")) == []


def test_the_regenerate_command_reproduces_the_shipped_file(tmp_path):
    import shlex

    from studio.runtime.vocabulary import main

    folder = tmp_path / "studio-tiny"
    shutil.copytree(EMBEDDED / "tokenizer", folder / "tokenizer")
    command = REGENERATE.split("`")[1]
    assert main([str(folder), *shlex.split(command)[4:]]) == 0
    assert (folder / VOCABULARY_FILE).read_text() == (EMBEDDED / VOCABULARY_FILE).read_text()
