"""The desktop editor (PySide6): a thin view over studio.graph and studio.engine."""

from studio.ui.shell import (
    import_scan,
    refcount_guard,  # noqa: F401  (keeps a PySide6 refcount bug from crashing us; imports PySide6)
)

import_scan.install()  # before anything heavy is imported (see the module)
