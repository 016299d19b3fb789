"""The desktop editor (PySide6): a thin view over studio.graph and studio.engine."""
