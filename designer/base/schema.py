"""The one validation layer: the types and limits every value from outside passes before
anything is built or allocated, and how a refusal is said.

Project files, run folders, CLI flags and the window's fields all end up in the same
checked classes (edit ops, recipes, training options), declared with the types below:
pydantic checks each value's type (strictly: ``"3"`` is not a number, ``"no"`` is not a
boolean), its range, that it is finite, and its size. A bad value becomes one line
naming the field, what was found and what is allowed (``schema_error``), never a
traceback and never a multi-gigabyte allocation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, ValidationError

from designer.base.errors import DesignerError

# Strict: JSON's "3" is not a number and "no" is not a boolean; unknown fields are refused.
STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)
STRICT_MUTABLE = ConfigDict(strict=True, extra="forbid")

# --- limits (each one generous for real work, small enough that nothing explodes) ------------------

MAX_SIDE = 4096  # image height or width, pixels
MAX_CHANNELS = 1024  # input channels (hyperspectral data has a few hundred)
MAX_INPUT_VALUES = 3 * 4096 * 4096  # channels x height x width of one input (200 MB of float32)
MAX_CLASSES = 100_000
MAX_WIDTH = 65_536  # a layer's features or channels
MAX_PATH = 512  # a dotted layer path, characters
MAX_TEXT = 4096  # a file path or a builder reference, characters
MAX_NAME = 256  # a class name
MAX_LR_FACTOR = 1000.0
MAX_SEED = 2**32 - 1  # NumPy's seeds stop here
MAX_LAYER_PARAMS = 200_000_000  # one new or rebuilt layer (800 MB of float32)

LAYER_PATH = r"^$|^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$"
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
WORD = r"^[A-Za-z0-9_\-]*$"



def matching(pattern: str, what: str) -> AfterValidator:
    """A text check that says what is allowed in words, not as a regular expression."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"it should be {what}")
        return value
    return AfterValidator(check)


Side = Annotated[int, Field(ge=1, le=MAX_SIDE)]
Channels = Annotated[int, Field(ge=1, le=MAX_CHANNELS)]
ClassCount = Annotated[int, Field(ge=1, le=MAX_CLASSES)]
Width = Annotated[int, Field(ge=0, le=MAX_WIDTH)]
LayerPath = Annotated[str, Field(max_length=MAX_PATH),
                      matching(LAYER_PATH, "a dotted layer name such as layer4.1.conv2 "
                                           "(letters, digits, _ and dots)")]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)]
Factor = Annotated[float, Field(ge=0.0, le=MAX_LR_FACTOR, allow_inf_nan=False)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
ClassName = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]


def describe_value(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def schema_error(exc: ValidationError, where: str, fields: tuple[str, ...] = ()) -> DesignerError:
    """One line for the first problem pydantic found (and how many more there are). ``fields``
    names positional arguments (a dataclass's fields in order)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = list(first["loc"])
    if loc and isinstance(loc[0], int) and loc[0] < len(fields):
        loc[0] = fields[loc[0]]
    field = ".".join(str(part) for part in loc if not isinstance(part, int)) or "value"
    if first["type"] in ("missing", "missing_argument"):
        return DesignerError(f"{where}: '{field}' is missing.", hint="Add it and try again.")
    allowed = first["msg"].removeprefix("Value error, ")
    allowed = (allowed[:1].lower() + allowed[1:]).replace("input should be", "it should be")
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    if first["type"] == "value_error" and not allowed.startswith("it should"):
        return DesignerError(f"{where}: '{field}': {allowed}{more}.", hint="Fix that value and try again.")
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return DesignerError(f"{where}: '{field}' is {describe_value(first.get('input'))}; {allowed}{more}.",
                         hint="Fix that value and try again.")


@contextlib.contextmanager
def checked(where: str, fields: tuple[str, ...] = ()):
    """Turn a pydantic ValidationError raised inside into one DesignerError naming ``where``."""
    try:
        yield
    except ValidationError as exc:
        raise schema_error(exc, where, fields) from None


def friendly(where):
    """Class decorator for a checked dataclass: making one with a bad value raises a
    DesignerError naming ``where`` (a string, or a function of the class), not pydantic's
    ValidationError. ``dataclasses.replace`` goes through the same check."""
    def decorate(cls):
        init = cls.__init__
        label = where(cls) if callable(where) else where
        names = tuple(f.name for f in dataclasses.fields(cls))

        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            with checked(label, names):
                init(self, *args, **kwargs)
        cls.__init__ = __init__
        return cls
    return decorate
