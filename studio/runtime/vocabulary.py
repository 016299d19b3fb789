"""The words a model knows, from its folder's own metadata, and the words of a prompt it does not know.

A model trained on a small closed vocabulary (the embedded one) maps every other word to its unknown token:
the word is dropped without a sound. Such a model ships ``studio_vocabulary.json`` beside ``model_index.json``
and Studio warns about the words it would drop. A real model has no such file and is never checked: its
tokenizer splits any word into known pieces, so there is no list to check against.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from studio.fileio import write_text_atomic
from studio.values import Prompt

VOCABULARY_FILE = "studio_vocabulary.json"
FORMAT = 1
_MAX_BYTES = 1 << 20  # a vocabulary of a few thousand words is tens of kB; a bigger file is not ours
# Words as the embedded model's tokenizer sees them (its pre-tokenizer splits on \w+ and punctuation runs);
# punctuation is left out: it carries no content a person would miss.
_WORD = re.compile(r"\w+")
_SUMMARY_WORDS = 40  # a warning lists at most this many of a vocabulary without groups

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UnknownWord:
    """A word of a prompt the model does not know, and the known words nearest to it (maybe none)."""

    word: str
    nearest: tuple[str, ...]

    def __str__(self) -> str:
        if not self.nearest:
            return f'"{self.word}"'
        nearest = " or ".join('"' + w + '"' for w in self.nearest)
        return f'"{self.word}" (did you mean {nearest}?)'


@dataclass(frozen=True)
class Vocabulary:
    """Every word a model knows, in its file's order, and the same words in named groups for people."""

    words: tuple[str, ...]
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    lowercase: bool = True

    def knows(self, word: str) -> bool:
        return (word.lower() if self.lowercase else word) in self._known

    @cached_property
    def _known(self) -> frozenset[str]:
        return frozenset(self.words)

    def unknown_words(self, text: str) -> list[UnknownWord]:
        """The words of ``text`` this model does not know, each once, in order, with the nearest known ones."""
        found: list[UnknownWord] = []
        seen: set[str] = set()
        known = self._known
        for word in _WORD.findall(text.lower() if self.lowercase else text):
            if word in known or word in seen:
                continue
            seen.add(word)
            found.append(UnknownWord(word, nearest_words(word, self.words)))
        return found

    def summary(self) -> str:
        """The vocabulary in one line: its groups ("colours red, green; shapes ..."), else its words."""
        if not self.groups:
            shown = ", ".join(self.words[:_SUMMARY_WORDS])
            more = len(self.words) - _SUMMARY_WORDS
            return shown if more <= 0 else f"{shown} and {more} more (`studio models` lists them)"
        return "; ".join(f"{name} {', '.join(words)}" for name, words in self.groups)


    def describe(self) -> list[str]:
        """Lines for `studio models`: how many words, then one line per group (or all the words)."""
        lines = [f"    knows {len(self.words)} words (a prompt with others gets a warning naming them):"]
        if not self.groups:
            return [*lines, "      " + ", ".join(self.words)]
        return [*lines, *(f"      {name}: {', '.join(words)}" for name, words in self.groups)]


def nearest_words(word: str, known: tuple[str, ...] | list[str], count: int = 2) -> tuple[str, ...]:
    """Known words close to ``word`` in spelling (``bleu`` -> ``blue``), else of the same stem (``moving`` ->
    ``moves``); empty when nothing is near."""
    if len(word) < 3:
        return ()  # "an" is not a misspelt "and"
    close = difflib.get_close_matches(word, list(known), n=count, cutoff=0.7)
    if not close:
        stem = _stem(word)
        close = [k for k in known if len(stem) >= 3 and _stem(k) == stem][:count]
    return tuple(close)


def _stem(word: str) -> str:
    # Enough English for "moving"/"moved"/"move" -> "mov" = "moves"; a word too short to cut stays whole.
    for ending in ("ing", "ed", "es", "s", "e"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def read_vocabulary(folder: Path) -> Vocabulary | None:
    """The vocabulary ``folder`` ships, or None: no file (a real model), or one that cannot be read (logged,
    since the file only adds warnings, a broken one must not stop a render)."""
    path = Path(folder) / VOCABULARY_FILE
    try:
        if not path.is_file():
            return None
        if path.stat().st_size > _MAX_BYTES:
            raise ValueError(f"larger than {_MAX_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
        return _parse(data)
    except (OSError, ValueError) as exc:
        log.warning("the model's vocabulary file %s is ignored: %s", path, exc)
        return None


def _parse(data: object) -> Vocabulary:
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    words = data.get("words")
    if not isinstance(words, list) or not words or not all(isinstance(w, str) and w for w in words):
        raise ValueError("'words' must be a list of words")
    lowercase = bool(data.get("lowercase", True))
    groups_data = data.get("groups", {})
    if not isinstance(groups_data, dict):
        raise ValueError("'groups' must map a name to a list of words")
    groups: list[tuple[str, tuple[str, ...]]] = []
    for name, members in groups_data.items():
        if not isinstance(members, list) or not all(isinstance(w, str) for w in members):
            raise ValueError(f"group '{name}' must be a list of words")
        groups.append((str(name), tuple(members)))
    return Vocabulary(tuple(words), tuple(groups), lowercase)


def vocabulary_record(words: list[str], groups: dict[str, list[str]] | None = None,
                      source: str = "") -> dict:
    """What ``studio_vocabulary.json`` holds for ``words``; words in no group are listed under "other words"."""
    words = list(dict.fromkeys(words))
    grouped: dict[str, list[str]] = {}
    for name, members in (groups or {}).items():
        unknown = [w for w in members if w not in words]
        if unknown:
            raise ValueError(f"group '{name}' names words the model does not know: {', '.join(unknown)}")
        grouped[name] = list(members)
    placed = {w for members in grouped.values() for w in members}
    rest = [w for w in words if w not in placed]
    if grouped and rest:
        grouped["other words"] = rest
    record: dict = {
        "format": FORMAT,
        "about": "The words this model was trained on. Studio warns when a prompt uses any other word: the "
                 "model's tokenizer maps it to its unknown token, so the model ignores it.",
        "lowercase": True,
        "words": words,
        "groups": grouped,
    }
    if source:
        record["source"] = source
    return record


def write_vocabulary(folder: Path, words: list[str], groups: dict[str, list[str]] | None = None,
                     source: str = "") -> Path:
    """Write ``studio_vocabulary.json`` into a model folder (training code calls this when it saves)."""
    path = Path(folder) / VOCABULARY_FILE
    write_text_atomic(path, json.dumps(vocabulary_record(words, groups, source), indent=2) + "\n")
    return path


def tokenizer_words(folder: Path) -> list[str]:
    """The words of a word-level tokenizer saved in ``folder``/tokenizer, in id order, special tokens left out."""
    data = json.loads((Path(folder) / "tokenizer" / "tokenizer.json").read_text(encoding="utf-8"))
    model = data.get("model", {})
    if model.get("type") != "WordLevel":
        raise ValueError(f"the tokenizer is {model.get('type')}, not word-level: it has no closed vocabulary")
    special = {token.get("content") for token in data.get("added_tokens", [])}
    special |= {model.get("unk_token")}
    vocab = model.get("vocab", {})
    return [w for w, _ in sorted(vocab.items(), key=lambda kv: kv[1]) if w not in special and not w.startswith("<")]


def prompt_texts(prompt: Prompt) -> list[tuple[str, str]]:
    """(where, text) of every text a prompt value holds: the prompt, each schedule section, the negative."""
    sections = getattr(prompt, "sections", ())
    texts: list[tuple[str, str]] = []
    if len(sections) > 1:
        texts += [(f"prompt from {start:g} s", text) for start, text in sections]
    else:
        texts.append(("prompt", prompt.text))
    if prompt.negative:
        texts.append(("negative prompt", prompt.negative))
    return texts


def unknown_words_warning(vocabulary: Vocabulary | None, model_name: str, prompt: Prompt) -> str | None:
    """One sentence naming, per prompt text, the words the model does not know and the nearest it does;
    None when it knows them all (or has no vocabulary to check against)."""
    if vocabulary is None:
        return None
    parts = []
    for where, text in prompt_texts(prompt):
        unknown = vocabulary.unknown_words(text)
        if unknown:
            parts.append(f"{where}: {', '.join(str(u) for u in unknown)}")
    if not parts:
        return None
    return (f"the model '{model_name}' ignores words it does not know: {'; '.join(parts)}. "
            f"It knows: {vocabulary.summary()}.")


def warn_unknown_words(model, prompt: Prompt, warn) -> None:  # noqa: ANN001 (a LoadedModel, ctx.warn)
    """Call ``warn`` with the warning for the prompt's unknown words, if the model has a vocabulary and any."""
    message = unknown_words_warning(getattr(model, "vocabulary", None), getattr(model, "name", "model"), prompt)
    if message:
        warn(message)


def main(argv: list[str] | None = None) -> int:
    """Write a model folder's vocabulary file from its word-level tokenizer (groups: NAME=word,word,...)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m studio.runtime.vocabulary", description=main.__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--group", action="append", default=[], metavar="NAME=WORD,WORD")
    parser.add_argument("--source", default="this folder's word-level tokenizer")
    args = parser.parse_args(argv)
    groups = {}
    for item in args.group:
        name, _, members = item.partition("=")
        groups[name] = [w for w in members.split(",") if w]
    print(write_vocabulary(args.folder, tokenizer_words(args.folder), groups, args.source))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
