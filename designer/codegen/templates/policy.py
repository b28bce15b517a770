"""The script's training policy (freezing, LR factors, BatchNorm), its model I/O and layout.

A template (see ``templates``): the code below SCRIPT_STARTS goes into the script as it is."""

from __future__ import annotations

import json

import torch
from torch import nn

from designer.codegen.templates.names import (
    BN_MODE,
    FROZEN,
    HEIGHT,
    IN_CHANNELS,
    LR_FACTORS,
    WIDTH,
    build_model,
)

# --- the script: everything below this line is copied into it ---


def is_under(name: str, prefix: str) -> bool:
    """True if parameter ``name`` lies in the module at ``prefix`` ("" is the whole model)."""
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def param_groups(model: nn.Module, lr: float, weight_decay: float) -> list[dict]:
    """One optimizer group per LR factor, lr = base lr x factor; frozen parameters are left out."""
    groups: dict[float, dict] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            factor = next((f for prefix, f in LR_FACTORS.items() if is_under(name, prefix)), 1.0)
            group = groups.setdefault(factor, {"params": [], "param_names": [], "lr": lr * factor,
                                               "weight_decay": weight_decay})
            group["params"].append(param)
            group["param_names"].append(name)
    return list(groups.values())


def set_train_mode(model: nn.Module, training: bool, mode: str) -> None:
    """model.train(training), BatchNorm as BN_MODE says (frozen ones stay in eval: no drift);
    from scratch every BatchNorm trains: the design's policy is for fine-tuning."""
    model.train(training)
    if mode == "scratch" or BN_MODE == "train":
        return
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters())
            if BN_MODE == "eval" or (params and not any(p.requires_grad for p in params)):
                module.eval()


def load_weights(path: str) -> dict[str, torch.Tensor]:
    """A state dict from .safetensors or .pt/.pth (tensors only), or a checkpoint's model."""
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state["model"] if isinstance(state.get("model"), dict) else state


def load_model(weights: str | None) -> nn.Module:
    """The designed network, ``weights`` loaded if given; FROZEN parameters get no gradient."""
    model = build_model(pretrained=weights is None)
    if weights:
        model.load_state_dict(load_weights(weights))
    for name, param in model.named_parameters():
        if any(is_under(name, prefix) for prefix in FROZEN):
            param.requires_grad_(False)
    return model


def check(weights: str | None) -> None:
    """Print, as JSON, what a parity check compares: keys, fixed-input logits, LR factors."""
    model = load_model(weights).eval()
    inputs = torch.randn(2, IN_CHANNELS, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(inputs)
    groups = param_groups(model, lr=1.0, weight_decay=0.0)
    factors = {name: group["lr"] for group in groups for name in group["param_names"]}
    print(json.dumps({"keys": list(model.state_dict()), "logits": logits.tolist(),
                      "lr_factors": factors}))


def layout(model: nn.Module, device: torch.device) -> torch.memory_format:
    """Channels-last on the CPU for 2-D convolutions, as the app trains (layouts round apart)."""
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    return torch.channels_last if device.type == "cpu" and has_conv else torch.contiguous_format


def weights_of(model: nn.Module) -> dict:
    """The state dict in the default layout (what safetensors and other readers expect)."""
    return {k: v.contiguous() for k, v in model.state_dict().items()}
