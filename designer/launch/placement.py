"""Where a run trains: in this process (the default), on every GPU of this machine, or in a set
number of processes. The one rule the window, the CLI and the run records share."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from designer.base.errors import DesignerError

WHERE = ("here", "gpus", "processes")
MAX_PROCESSES = 64
# Head-only and linear-probe runs train on cached features in seconds: they stay in this process.
CHILD_MODES = ("recommended", "full", "scratch")


@dataclass(frozen=True)
class Placement:
    """``where``: "here" (this process), "gpus" (one process per GPU of this machine) or
    "processes" (``processes`` of them: on the GPUs when there are enough, else the CPU)."""

    where: str = "here"
    processes: int = 2

    def __post_init__(self) -> None:
        if self.where not in WHERE:
            raise DesignerError(f"Unknown place to train '{self.where}'.",
                                hint="Choose here, gpus or a number of processes.")
        if isinstance(self.processes, bool) or not isinstance(self.processes, int) or \
                not 1 <= self.processes <= MAX_PROCESSES:
            raise DesignerError(f"The number of processes must be a whole number from 1 to {MAX_PROCESSES}.")

    @classmethod
    def parse(cls, text: str) -> Placement:
        """From the CLI's ``--where``: "here", "gpus" or a number of processes."""
        text = str(text).strip().lower()
        if text in ("here", "gpus"):
            return cls(text)
        if text.isascii() and text.isdigit() and len(text) <= 6:  # "²" and "٣" pass isdigit() alone
            return cls("processes", int(text))
        raise DesignerError(f"--where {text!r} is not a place to train.",
                            hint="Use here (this process), gpus (every GPU of this machine) or a number of "
                                 "processes, e.g. 2.")

    @classmethod
    def from_dict(cls, data) -> Placement:
        """A placement as saved (options.json, the window's settings); anything malformed is refused."""
        if not isinstance(data, dict):
            raise DesignerError("The place to train should be an object of settings.")
        return cls(data.get("where", "here"), data.get("processes", 2))

    def to_dict(self) -> dict:
        return {"where": self.where, "processes": self.processes}

    @property
    def in_child(self) -> bool:
        return self.where != "here"

    def count(self, device: str = "auto") -> int:
        """How many processes this placement starts (0: none, the run stays in this process)."""
        if self.where == "here":
            return 0
        if self.where == "processes":
            return self.processes
        gpus = torch.cuda.device_count() if device != "cpu" else 0
        if gpus == 0:
            raise DesignerError("This machine has no GPU that PyTorch can use, "
                                "so there are no GPUs to train on.",
                                hint="Train in this process, or choose a number of processes for the CPU.")
        return gpus

    def backend(self, device: str = "auto") -> str:
        """What the processes compute on: "cuda" (nccl) when each one gets a GPU, else "cpu" (gloo)."""
        if device == "cpu" or not torch.cuda.is_available():
            return "cpu"
        return "cuda" if torch.cuda.device_count() >= self.count(device) else "cpu"

    def describe(self, device: str = "auto") -> str:
        """Where the run trains, in plain words."""
        if self.where == "here":
            return "in this process"
        count = self.count(device)
        if self.backend(device) == "cuda":
            nccl = " (nccl)" if count > 1 else ""
            return f"in {count} process{'es' if count > 1 else ''}, one per GPU{nccl}"
        if count == 1:
            return "in a separate process on the CPU"
        return f"in {count} processes on the CPU (gloo), {threads_per_process(count)} thread(s) each"


def saved_placement(settings) -> Placement:
    """The placement kept in a project's training settings (``settings["placement"]``); "this process"
    when absent or malformed, since a project file comes from outside."""
    data = settings.get("placement") if isinstance(settings, dict) else None
    if data is None:
        return Placement()
    try:
        return Placement.from_dict(data)
    except (DesignerError, TypeError, ValueError):
        return Placement()


def threads_per_process(count: int) -> int:
    """CPU threads each process may use, so that together they use what this process would: torch's
    own thread count (the physical cores), not ``os.cpu_count`` (which counts hyper-threads)."""
    return max(1, torch.get_num_threads() // max(1, count))
