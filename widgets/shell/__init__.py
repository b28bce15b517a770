"""The main window, the start page, project files and the workspaces they hold."""
