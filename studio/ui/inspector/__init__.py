"""The inspector dock: the selected node's parameters, record tables and driven parameters."""
