"""The Training tab: options, live curves, progress and the run history."""
