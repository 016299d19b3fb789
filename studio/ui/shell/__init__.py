"""The editor's frame: app start-up, the main window and its actions, files, settings, theme, log, renders."""
