"""timm's pretrained image classifiers, read from timm's own metadata.

The gallery lists 1,500+ timm models beside torchvision's, so listing must not
build anything and must not even import timm on every start: the facts the
gallery needs (input size, mean/std, ``first_conv``, ``classifier``, where the
weights live) are read once from timm's pretrained configs and kept in a JSON
cache per timm version. ImageNet top-1, parameters and GMACs are not in timm's
wheel; they come from ``timm_results.csv``, an extract of timm's published
``results/`` tables (``tools/make_timm_results.py``).

Weights are "on this computer" when the Hugging Face hub cache (or, for the few
configs with a plain URL, the torch hub cache) holds the file: checked on disk,
never over the network.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import functools
import io
import os
from dataclasses import asdict, dataclass
from importlib import metadata, resources
from pathlib import Path
from urllib.parse import urlparse

from designer.base.errors import DesignerError, plain_reason
from designer.base.fileio import read_json, write_json

SOURCE = "timm"
CACHE_FORMAT = 2  # bump when TimmEntry or its family rule changes, so old caches are rebuilt
# Architectures timm defines inside another family's module that users know as their own family:
# MobileNetV4 lives in timm's mobilenetv3.py, but it is a different network (issue 22).
OWN_FAMILY_PREFIXES = ("mobilenetv4",)
RESULTS_FILE = "timm_results.csv"
# Files timm's loader looks for in a model's hub repository, safest first.
HUB_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class TimmEntry:
    """One pretrained timm classifier, as its pretrained config describes it."""

    name: str  # architecture.tag, e.g. resnet18.a1_in1k
    family: str  # the timm module that defines the architecture, e.g. "resnet", "vision_transformer"
    input_size: tuple[int, int, int]
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    first_conv: str
    classifier: tuple[str, ...]
    hf_hub_id: str = ""
    url: str = ""
    fixed_input_size: bool = False


def installed_version() -> str | None:
    """timm's version from its package metadata, without importing it (None: not installed)."""
    try:
        return metadata.version("timm")
    except metadata.PackageNotFoundError:
        return None


def require_timm():
    """The timm module, or one clear line saying how to get it."""
    try:
        import timm  # imported only when a timm model is built or listed for the first time
    except ImportError as exc:
        raise DesignerError("timm models need the Python package 'timm', which is not installed.",
                            hint="Install it with: pip install timm") from exc
    return timm


CACHE_ENV = "NETSURGEON_CACHE_DIR"  # tests point it at a temporary folder


def cache_folder() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "netsurgeon"


def _cache_file(version: str) -> Path:
    return cache_folder() / f"timm-gallery-{version}-v{CACHE_FORMAT}.json"


@functools.lru_cache(maxsize=1)
def entries() -> dict[str, TimmEntry]:
    """Every pretrained timm classifier by name; {} when timm is not installed."""
    version = installed_version()
    if version is None:
        return {}
    cached = _read_cache(_cache_file(version))
    if cached:
        return cached
    found = _scan()
    with contextlib.suppress(OSError, DesignerError):  # a read-only home folder: list from timm next time
        write_json(_cache_file(version), {"entries": [asdict(e) for e in found.values()]}, indent=None)
    return found


def _read_cache(path: Path) -> dict[str, TimmEntry]:
    """The cached entries, or {} when the file is missing or not what this version wrote."""
    rows = read_json(path).get("entries")
    if not isinstance(rows, list):
        return {}
    try:
        made = [TimmEntry(**{**row, "input_size": tuple(row["input_size"]), "mean": tuple(row["mean"]),
                             "std": tuple(row["std"]), "classifier": tuple(row["classifier"])})
                for row in rows]
    except (TypeError, KeyError):
        return {}
    return {e.name: e for e in made}


def _scan() -> dict[str, TimmEntry]:
    """Read timm's registry: the pretrained names whose config has a classifier (num_classes > 0)."""
    timm = require_timm()
    from timm.models import _registry  # the module map is not exported elsewhere

    found = {}
    for name in timm.list_pretrained():
        cfg = timm.models.get_pretrained_cfg(name)
        if cfg is None or not cfg.num_classes or not cfg.first_conv or not cfg.classifier:
            continue
        arch = name.split(".")[0]
        classifier = (cfg.classifier,) if isinstance(cfg.classifier, str) else tuple(cfg.classifier)
        found[name] = TimmEntry(
            name=name, family=family_of(arch, _registry._model_to_module.get(arch, arch)),
            input_size=tuple(cfg.input_size),
            num_classes=int(cfg.num_classes), mean=tuple(cfg.mean), std=tuple(cfg.std),
            first_conv=str(cfg.first_conv), classifier=classifier, hf_hub_id=cfg.hf_hub_id or "",
            url=cfg.url if isinstance(cfg.url, str) else "", fixed_input_size=bool(cfg.fixed_input_size))
    return found


def family_of(arch: str, module: str) -> str:
    """The gallery's family of a timm architecture: the module that defines it, unless it is one of
    ``OWN_FAMILY_PREFIXES`` (then that prefix)."""
    return next((p for p in OWN_FAMILY_PREFIXES if arch.startswith(p)), module)


def entry(name: str) -> TimmEntry:
    """The entry for a timm name, checked against timm's registry before anything is built."""
    if installed_version() is None:
        require_timm()
    found = entries()
    if name not in found:
        close = difflib.get_close_matches(name, list(found), n=5, cutoff=0.6)
        hint = f"Did you mean {', '.join(close)}?" if close else ""
        hint += " Run `python -m designer models --source timm` to see them all."
        raise DesignerError(f"timm has no pretrained classifier called '{name}'.", hint=hint.strip())
    return found[name]


# --- published figures ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def published() -> dict[str, tuple[float | None, float | None, float | None]]:
    """name (with tag, or bare architecture) -> (top-1 %, params in millions, GMACs)."""
    text = (resources.files("designer.zoo") / RESULTS_FILE).read_text(encoding="utf-8")
    return {row["model"]: (_number(row["top1"]), _number(row["params_m"]), _number(row["gmacs"]))
            for row in csv.DictReader(io.StringIO(text))}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def figures(name: str) -> tuple[float | None, int, float | None]:
    """(top-1 where timm publishes it for this tag, parameter count or 0, GMACs) for a timm name."""
    table = published()
    top1, params, gmacs = table.get(name, (None, None, None))
    _, arch_params, arch_gmacs = table.get(name.split(".")[0], (None, None, None))
    params = params if params is not None else arch_params
    return top1, round(params * 1e6) if params else 0, gmacs if gmacs is not None else arch_gmacs


# --- weights on this computer ---------------------------------------------------------------------


def hub_cache_dir() -> Path:
    """Where huggingface_hub keeps downloads, by its own environment rules (read, not imported)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface")
    return Path(home) / "hub"


def _repo_folder(hf_hub_id: str) -> str:
    return "models--" + hf_hub_id.split("@")[0].replace("/", "--")


def local_repos() -> set[str]:
    """The model folders in the hub cache (one directory listing, for the whole gallery)."""
    try:
        return {p.name for p in hub_cache_dir().iterdir() if p.name.startswith("models--")}
    except OSError:
        return set()


def weights_file(item: TimmEntry, repos: set[str] | None = None) -> Path | None:
    """The pretrained file for ``item`` if it is on this computer, else None. No network."""
    if item.hf_hub_id:
        folder = _repo_folder(item.hf_hub_id)
        if repos is not None and folder not in repos:
            return None
        for snapshot in sorted((hub_cache_dir() / folder / "snapshots").glob("*")):
            for name in HUB_FILES:
                if (snapshot / name).is_file():
                    return snapshot / name
        return None
    if item.url:
        import torch  # only for the few configs with a plain URL

        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(item.url).path)
        return path if path.is_file() else None
    return None


def download_weights(item: TimmEntry) -> Path:
    """Fetch the pretrained file into the hub cache (timm's own way: huggingface_hub)."""
    if not item.hf_hub_id:
        raise DesignerError(f"timm lists no Hugging Face download for {item.name}.")
    from huggingface_hub import hf_hub_download  # a timm dependency, needed only here

    repo, _, revision = item.hf_hub_id.partition("@")
    for name in HUB_FILES:
        try:
            return Path(hf_hub_download(repo_id=repo, filename=name, revision=revision or None))
        except Exception as exc:  # noqa: BLE001 -- offline, missing file, firewall: try the next, then say so
            last = exc
    raise DesignerError(f"The pretrained weights for {item.name} could not be downloaded "
                        f"({plain_reason(last)}).")


def create(name: str):
    """timm's network for ``name`` with random weights: ``timm.create_model(name, pretrained=False)``."""
    entry(name)
    timm = require_timm()
    try:
        return timm.create_model(name, pretrained=False)
    except Exception as exc:  # timm can fail in many ways for an odd config; the user needs one line
        raise DesignerError(f"timm could not build {name}: {plain_reason(exc)}") from exc
