"""Where a render may write: the output folder, the files the person chose, and whether to replace.

A name written in the graph resolves inside the output folder (``renders/`` beside the graph unless the person
configured another); the checks that need the file system (links leaving the folder, a read-only or full disk)
run here, before anything slow starts. A destination the person typed (``-o``, ``--set``) is taken as given.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from studio.errors import StudioError
from studio.graph.outputs import output_name_problem

OUTPUT_FOLDER = "renders"  # beside the graph file
OUTPUT_ROOT_ENV = "STUDIO_OUTPUT_ROOT"
MIN_FREE_BYTES = 64 * 1024 * 1024  # below this a render is refused before it starts
DRAFT_TAG = "_draft"


@dataclass(frozen=True)
class OutputPolicy:
    """What a render may write. ``root``: the output folder (None: ``renders/`` beside the graph, or the
    default folder for an unsaved graph or one of Studio's examples). ``chosen``: node id -> a file the person picked, used as given.
    ``overwrite``: replace an earlier output of Studio's at the same name instead of writing the next version.
    ``draft``: a draft render; its graph-named outputs get a ``_draft`` name and never replace a full render.
    ``again``: write the files anew even when the same clip is already in the output folder ("Export again");
    without it (and without ``overwrite``) an unchanged exporter returns the clip it wrote in an earlier
    session (see ``engine.records``)."""

    root: Path | None = None
    chosen: Mapping[str, Path] = field(default_factory=dict)
    overwrite: bool = False
    draft: bool = False
    again: bool = False

    def folder(self, base_dir: Path | None) -> Path:
        """The output folder for a graph whose file is in ``base_dir`` (None: not saved yet)."""
        if self.root is not None:
            return Path(self.root).expanduser()
        configured = os.environ.get(OUTPUT_ROOT_ENV)
        if configured:
            return Path(configured).expanduser()
        from studio.paths import default_output_dir, is_bundled

        # Studio's own examples are opened, not owned: their renders go where an unsaved graph's go.
        if base_dir is not None and not is_bundled(Path(base_dir)):
            return Path(base_dir) / OUTPUT_FOLDER
        return default_output_dir()

    def key(self, node_id: str, base_dir: Path | None) -> list[str]:
        """What of the policy decides where ``node_id`` writes (part of its cache key)."""
        chosen = self.chosen.get(node_id)
        return [str(chosen) if chosen else str(self.folder(base_dir)), str(self.overwrite), str(self.draft)]


def records_folder(policy: OutputPolicy, node_id: str, base_dir: Path | None) -> Path | None:
    """The output folder whose Studio records say what ``node_id`` wrote there; None for a file the person
    chose (-o, Export Clip): that may be any folder, and Studio leaves no records of its own there."""
    return None if node_id in policy.chosen else policy.folder(base_dir)


def resolve_output(policy: OutputPolicy, node_id: str, value: str, base_dir: Path | None) -> Path:
    """The file ``node_id`` writes for its path ``value``; StudioError naming the node when it may not.

    Folders on the way are created inside the output folder only; a component that is a link leading out of it,
    or an output folder that is itself a link next to a graph, is refused."""
    chosen = policy.chosen.get(node_id)
    if chosen is not None:
        target = Path(chosen)  # typed by the person: as given
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
    if not value:
        raise StudioError("no output file chosen", node_id=node_id, hint="set 'path' to a file name")
    problem = output_name_problem(value)
    if problem:
        raise StudioError(problem, node_id=node_id)
    root = policy.folder(base_dir)
    derived = root == Path(base_dir or ".") / OUTPUT_FOLDER  # beside the graph, as it came
    if derived and root.is_symlink():
        raise StudioError(
            f"the output folder '{root}' beside the graph is a link to somewhere else",
            node_id=node_id,
            hint="a downloaded graph must not choose where its renders go: remove the link, or render with -o",
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudioError(
            f"cannot create the output folder '{root}': {exc.strerror or exc}",
            node_id=node_id,
            hint="choose another output folder, or render with -o FILE",
        ) from None
    real_root = root.resolve()
    parts = Path(value.replace("\\", "/")).parts
    folder = real_root
    for part in parts[:-1]:
        folder = folder / part
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise StudioError(
                f"'{value}' passes through '{part}', which is a link or a file inside the output folder",
                node_id=node_id,
                hint="a graph writes only into plain folders under its output folder",
            )
        if not folder.exists():
            folder.mkdir()
    target = folder / parts[-1]
    if policy.draft:
        target = draft_name(target)
    if target.is_symlink():
        raise StudioError(
            f"'{target.name}' in the output folder is a link",
            node_id=node_id,
            hint="remove the link, or give the output another name",
        )
    return target


def draft_name(target: Path) -> Path:
    """clip.mp4 -> clip_draft.mp4: a draft never takes a full render's name."""
    stem = target.name[: len(target.name) - len(target.suffix)]
    if stem.endswith(DRAFT_TAG):
        return target
    return target.with_name(f"{stem}{DRAFT_TAG}{target.suffix}")


def check_writable(folder: Path, *, node_id: str | None = None, need: int = MIN_FREE_BYTES) -> None:
    """Refuse, in a sentence naming ``folder``, a destination that is read-only or nearly full."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".studio-write-check.", dir=folder)
    except OSError as exc:
        raise StudioError(
            f"cannot write to {folder}: {exc.strerror or exc}",
            node_id=node_id,
            path=folder,
            hint="choose a folder you can write to",
        ) from None
    os.close(fd)
    os.unlink(probe)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise StudioError(
            f"no space left on {folder} ({free // (1024 * 1024)} MB free, a render needs at least "
            f"{need // (1024 * 1024)} MB)",
            node_id=node_id,
            path=folder,
            hint="free some space, or choose another folder",
        )
