"""Keep PySide6's import hook from reading the source of every module imported after it."""

# Importing PySide6 replaces ``__import__``: after each import it calls
# ``shibokensupport.feature._mod_uses_pyside``, which reads the module's whole source (inspect.getsource)
# to see whether it mentions "PySide6", for the ``from __feature__ import snake_case`` switch. Studio
# uses no ``__feature__``. Measured on the first render after launch, when torch, transformers and
# diffusers are imported on the engine's thread: the scan of their thousands of files held the GIL
# long enough to freeze the editor 8 times for 100-390 ms (tests/benchmarks/bench_editor.py,
# first_render_*), and kept all that source text in linecache. Modules outside Studio are now marked
# "ignore" without reading them (what PySide6 concludes for every module that does not mention it; a
# module that does ``from __feature__ import ...`` is still switched by that import itself).

from __future__ import annotations

_OWN = ("studio", "nodes", "tests", "__main__")
_installed = False


def install() -> bool:
    """Scan only Studio's own modules; True when the hook was found and narrowed (once per process)."""
    global _installed
    if _installed:
        return True
    import PySide6.QtCore  # noqa: F401 - installs the hook being narrowed

    try:
        from shibokensupport import feature
    except ImportError:  # another PySide6 layout: nothing to narrow
        return False
    scan = getattr(feature, "_mod_uses_pyside", None)
    if scan is None:
        return False

    def uses_pyside(module) -> bool:  # noqa: ANN001 - any module object
        name = getattr(module, "__name__", None) or ""
        return name.split(".", 1)[0] in _OWN and scan(module)

    feature._mod_uses_pyside = uses_pyside
    _installed = True
    return True
