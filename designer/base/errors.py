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


# What PyTorch's file writer says when a write comes up short (torch.save on a full disk)
_SHORT_WRITE = ("unexpected pos", "file write failed", "PytorchStreamWriter failed")
DISK_FULL = "a file could not be written in full: the disk may be full (free some space, then try again)"


def plain_reason(exc: BaseException, limit: int = 300) -> str:
    """What went wrong in ``exc``'s own words, without its class name: 'ZeroDivisionError' or
    'OSError' means nothing to whoever reads the message; the words after it often do."""
    if isinstance(exc, DesignerError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"[:limit]
    text = (str(exc).splitlines() or [""])[0].strip()
    if any(words in text for words in _SHORT_WRITE):
        return DISK_FULL
    return text[:limit] or "no details were given"
