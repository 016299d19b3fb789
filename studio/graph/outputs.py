"""The rule for file names a graph writes: relative names that stay inside the graph's output folder.

A graph file is data that strangers share. What it may write is limited to names under its output folder
(``renders/`` beside the graph, or the output folder the person configured); only what the person types
(``studio render -o``, the Export dialog) may point anywhere. This module holds the part of the rule that
needs no file system (so ``studio validate`` and the inspector can apply it); the engine resolves the name
inside the folder and checks links at render time (``studio.engine.outputs``).
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

MAX_NAME_CHARS = 255  # one file name on common file systems
MAX_PATH_CHARS = 1024


def output_name_problem(value: str) -> str | None:
    """Why a graph may not write to ``value`` (None when it may): absolute, ``~``, ``..``, a drive, a folder."""
    if not value:
        return None
    hint = (
        "a graph writes only inside its output folder: give a relative name such as 'shot.mp4' or "
        "'takes/shot.mp4', or choose any file yourself (studio render -o, File > Export Clip)"
    )
    if len(value) > MAX_PATH_CHARS:
        return f"the file name is {len(value)} characters long (at most {MAX_PATH_CHARS}); {hint}"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return f"the file name contains control characters; {hint}"
    shown = value if len(value) <= 80 else value[:77] + "..."
    if value.startswith("~"):
        return f"'{shown}' names a home folder; {hint}"
    posix = PurePosixPath(value.replace("\\", "/"))
    windows = PureWindowsPath(value)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or windows.root:
        return f"'{shown}' is an absolute path; {hint}"
    if ".." in posix.parts:
        return f"'{shown}' climbs out of the output folder with '..'; {hint}"
    if value.endswith(("/", "\\")) or posix.name in ("", "."):
        return f"'{shown}' names a folder, not a file; {hint}"
    if any(len(part) > MAX_NAME_CHARS for part in posix.parts):
        return f"a part of '{shown}' is longer than {MAX_NAME_CHARS} characters"
    return None
