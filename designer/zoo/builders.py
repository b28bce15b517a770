"""Networks built by the user's own Python code (``package.module:function``): opt-in, checked.

A builder reference in a project file is code: importing its module runs that module,
and calling the function runs anything. So:

- Nothing is imported until the reference is *trusted*: the window asks the user when a
  project names a builder; the CLI needs ``--trust-builder``; a reference the user typed
  themselves (``new pkg.mod:fn``, the start page's builder box) counts as trusted.
- The current folder and the project's folder are not on the import path: a ``helpers.py``
  lying beside a project someone sent is never picked up by accident.
- The builder first runs in a separate Python process with no input and a time limit:
  one that hangs (``input``, ``signal.pause``, a server), kills its process (``os.abort``,
  ``sys.exit``) or returns something else than a network is refused with one clear line,
  and the app is never touched. Only then is it imported and called here.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
import tempfile

from torch import nn

from designer.base.errors import DesignerError, plain_reason

TIMEOUT_ENV = "NETSURGEON_BUILDER_TIMEOUT"
DEFAULT_TIMEOUT_S = 120.0
_TRUSTED: set[str] = set()
_TRUST_ALL = [False]
_PROBED: set[str] = set()

# Runs in the separate process: import, call, say what came back. Nothing of the app is imported.
_PROBE = """
import importlib, sys

def say(kind, text=""):
    print("NETSURGEON-" + kind + " " + str(text).replace("\\n", " ")[:300], flush=True)
    sys.exit(0)

try:
    obj = importlib.import_module(sys.argv[1])
except ImportError as exc:
    say("NOIMPORT", exc)
for part in sys.argv[2].split("."):
    if not hasattr(obj, part):
        say("NOATTR")
    obj = getattr(obj, part)
if not callable(obj):
    say("NOTCALLABLE")
try:
    made = obj()
except Exception as exc:
    say("CALLFAILED", type(exc).__name__ + ": " + str(exc))
from torch import nn
say("BUILT", "nn.Module" if isinstance(made, nn.Module) else type(made).__name__)
"""


class UntrustedBuilder(DesignerError):
    """A design names a builder nobody has said to trust yet."""

    def __init__(self, spec: str):
        super().__init__(f"This design builds its network by running Python code from '{spec}', "
                         "which NetSurgeon only does when you say you trust it.",
                         hint="On the command line add --trust-builder; in the window, answer Yes "
                              "when asked. Only do so for code you know.")
        self.spec = spec


def trust(spec: str) -> None:
    """Allow ``spec`` (a builder reference) to run in this process."""
    _TRUSTED.add(spec)


def trust_all(enabled: bool = True) -> None:
    """Allow every builder in this process (the CLI's ``--trust-builder``)."""
    _TRUST_ALL[0] = enabled


def is_trusted(spec: str) -> bool:
    return _TRUST_ALL[0] or spec in _TRUSTED


def split_spec(spec: str) -> tuple[str, str]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise DesignerError(f"'{spec}' is not a builder reference.",
                            hint="Write it as package.module:function, e.g. torchvision.models:resnet18.")
    return module_name, attr


def build(spec: str) -> nn.Module:
    """The network ``spec`` builds: trusted, tried in a separate process first, then made here."""
    if not is_trusted(spec):
        raise UntrustedBuilder(spec)
    module_name, attr = split_spec(spec)
    if spec not in _PROBED:
        _probe(spec, module_name, attr)
        _PROBED.add(spec)
    fn = _import(spec, module_name, attr)
    try:
        made = fn()
    except Exception as exc:  # user code can fail in any way; report it plainly
        raise DesignerError(f"Calling '{spec}' failed: {plain_reason(exc)}",
                            hint="The builder must work when called with no arguments.") from exc
    return _network(spec, made)


def _network(spec: str, made) -> nn.Module:
    if not isinstance(made, nn.Module):
        raise DesignerError(f"'{spec}' returned a {type(made).__name__}, not a PyTorch network (nn.Module).",
                            hint="Point to a function or class that builds the model, e.g. "
                                 "torchvision.models:resnet18.")
    return made


def _import_path() -> list[str]:
    """sys.path without the current folder (``''`` or its full path)."""
    here = os.path.abspath(os.getcwd())
    return [p for p in sys.path if p and os.path.abspath(p) != here]


@contextlib.contextmanager
def _without_current_folder():
    saved = list(sys.path)
    sys.path[:] = _import_path()
    try:
        yield
    finally:
        sys.path[:] = saved


def _timeout() -> float:
    try:
        return max(1.0, float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)))
    except ValueError:
        return DEFAULT_TIMEOUT_S


def _probe(spec: str, module_name: str, attr: str) -> None:
    """Run the builder in a separate Python with no input and a time limit; refuse what fails."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(_import_path())}
    with tempfile.TemporaryDirectory(prefix="netsurgeon-builder-") as folder:
        try:
            proc = subprocess.run([sys.executable, "-c", _PROBE, module_name, attr], check=False, cwd=folder,
                                  env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=_timeout())
        except subprocess.TimeoutExpired:
            raise DesignerError(f"'{spec}' did not finish building a network within {_timeout():.0f} s, "
                                "so it was stopped.",
                                hint="A builder must return a network when called with no arguments, "
                                     "without asking for input.") from None
    said = [line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith("NETSURGEON-")]
    if proc.returncode != 0 or not said:
        ended = f"it ended its program (exit status {proc.returncode}) instead of returning a network"
        last = (proc.stderr.strip().splitlines() or [ended])[-1]
        raise DesignerError(f"'{spec}' failed when run: {last[:300]}",
                            hint="Check the builder on its own: it must return a network when called with "
                                 "no arguments.")
    kind, text = said[-1][0].removeprefix("NETSURGEON-"), (said[-1][1:] or [""])[0]
    if kind != "BUILT" or text != "nn.Module":
        raise _probe_error(spec, module_name, attr, kind, text)


def _probe_error(spec: str, module_name: str, attr: str, kind: str, text: str) -> DesignerError:
    if kind == "NOIMPORT":
        return DesignerError(f"The Python module '{module_name}' could not be imported: {text}",
                             hint="Check the spelling, or install the package that provides it.")
    if kind == "NOATTR":
        return DesignerError(f"'{module_name}' has no '{attr}'.", hint="Check the name after the colon.")
    if kind == "NOTCALLABLE":
        return DesignerError(f"'{spec}' is not a function or class that can be called.")
    if kind == "CALLFAILED":
        return DesignerError(f"Calling '{spec}' failed: {text}",
                             hint="The builder must work when called with no arguments.")
    return DesignerError(f"'{spec}' returned a {text}, not a PyTorch network (nn.Module).",
                         hint="Point to a function or class that builds the model, "
                              "e.g. torchvision.models:resnet18.")


def _import(spec: str, module_name: str, attr: str):
    try:
        with _without_current_folder():
            obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise DesignerError(f"The Python module '{module_name}' could not be imported: {exc}",
                            hint="Check the spelling, or install the package that provides it.") from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise DesignerError(f"'{module_name}' has no '{attr}'.", hint="Check the name after the colon.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise DesignerError(f"'{spec}' is not a function or class that can be called.")
    return obj
