"""What the window and the CLI share above the core: the document, the project file and the long jobs
they run."""
