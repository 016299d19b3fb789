"""`studio` and `studio editor`: open the editor, or say in a sentence why no window can open here."""

from __future__ import annotations

import os
import sys

from studio.cli.exits import EXIT_FAILED


def add_commands(sub) -> None:  # noqa: ANN001 - argparse's private subparsers action
    p = sub.add_parser("editor", help="open the editor")
    p.add_argument("graph", nargs="?")
    p.set_defaults(func=lambda a: open_editor(a.graph))


def display_problem(environ: dict[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why the editor cannot open a window here, in a sentence, or None. Checked before Qt starts: without a
    display Qt aborts the process (rc 134) blaming a missing xcb-cursor0 library, which misleads."""
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return None  # macOS and Windows always have one; a chosen Qt platform (offscreen, vnc) is trusted
    if env.get("WAYLAND_DISPLAY"):
        return None
    display = env.get("DISPLAY", "")
    if not display:
        return "no display: set DISPLAY, or use `studio render GRAPH`"
    number = _local_display_number(display)
    if number is not None and not _x_server_answers(number):
        return (f"no display: nothing answers on DISPLAY={display}; start the X server (or Xvfb {display}), "
                "or use `studio render GRAPH`")
    return None


def _local_display_number(display: str) -> int | None:
    """``:1`` or ``:1.0`` (a local X server, reached through a socket) -> 1; remote displays are not probed."""
    host, _, rest = display.rpartition(":")
    if host not in ("", "unix"):
        return None
    number = rest.split(".")[0]
    return int(number) if number.isdigit() else None


def _x_server_answers(number: int) -> bool:
    import socket

    # The X server listens on a socket file, and on Linux also on the same name in the abstract namespace
    # (which is all a container sharing the host's network but not its /tmp sees).
    for address in (f"/tmp/.X11-unix/X{number}", f"\0/tmp/.X11-unix/X{number}"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            try:
                sock.connect(address)
            except OSError:
                continue
            return True
    return False


def open_editor(path: str | None) -> int:
    problem = display_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_FAILED
    try:
        from studio.ui.shell.app import main as editor_main
    except ImportError as exc:
        print(f"error: the editor cannot start: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return editor_main(path)
