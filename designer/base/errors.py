"""The one exception type the core raises for bad input.

Its message is written for the person at the keyboard, not for a developer:
it says what went wrong and what to do about it. The GUI shows it in a dialog
or the status bar; the CLI prints it and exits non-zero.
"""


class DesignerError(Exception):
    """A problem the user can act on (bad file, impossible edit, missing data)."""

    def __init__(self, message: str, *, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()
