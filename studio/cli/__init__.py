"""The command line: `studio` (the editor), `studio render`, `validate`, `nodes`, `models`, `verify`, `demo`.

One module per room of commands (render, catalogue, editor); ``program`` picks the command and ends the process."""

from studio.cli.editor import display_problem
from studio.cli.exits import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from studio.cli.program import COMMANDS, entry, main

__all__ = ["COMMANDS", "EXIT_CANCELLED", "EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "display_problem", "entry", "main"]
