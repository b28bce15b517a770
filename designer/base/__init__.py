"""The lowest layer: the project's one error type, atomic file writes and the job protocol."""
