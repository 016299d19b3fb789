"""The desktop editor (PySide6): a thin view over studio.graph and studio.engine."""

from studio.ui import refcount_guard  # noqa: F401  (first: keeps a PySide6 refcount bug from crashing us)
