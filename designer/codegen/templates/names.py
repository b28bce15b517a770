"""What the generated script defines before the templates' code, here for a 3-class RGB network
trained with the app's defaults: the constants ``codegen.script`` writes from the design and the
app's modules, and the ``build_model`` that ``codegen.model`` writes. The templates import these so
that each is plain Python that ruff checks and tests import; the generator never copies this file.
"""

from __future__ import annotations

from torch import nn
from torchvision import models

CLASSES: list[str] = ["a", "b", "c"]
NUM_CLASSES = 3
IN_CHANNELS, HEIGHT, WIDTH = 3, 32, 32
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
PIL_MODE = "RGB"
MOMENTUM = 0.9
STEP_SIZE, GAMMA = 0, 0.1
AUGMENT: list = []
FROZEN: list[str] = []
LR_FACTORS: dict[str, float] = {}
BN_MODE = "frozen_eval"
MODE = "recommended"
SETTINGS: dict = {"epochs": 5, "batch_size": 32, "warmup_epochs": 0.0, "schedule": "constant",
                  "lr": None}
PLANNED = ["epochs", "batch_size", "warmup_epochs", "schedule"]
DEFAULT_LR = {"sgd": 0.01, "adam": 0.001, "adamw": 0.001}
FULL_RATE_MODES, LR_DIVISOR = ["scratch", "recommended"], 10
PLAN = {"images": 2000, "min_epochs": 5, "max_epochs": 25, "min_batch": 8,
        "steps_per_tiny_epoch": 12, "warmup_fraction": 0.1, "min_warmup_steps": 5}
PACING = {"recommended": [0.1, 3, 0.25, 20.0], "full": [0.25, 0, 0.25, 0.0],
          "scratch": [0.25, 0, 0.25, 0.0]}
HEAD = "fc"
L2_GRID = [0.001, 0.01, 0.1]
GUARDS = {"diverged_x": 2.0, "diverged_epochs": 2, "losing_after": 0.6, "losing_margin": 0.03,
          "restart_lr_divisor": 10.0}
IMAGE_EXTENSIONS = [".jpeg", ".jpg", ".png"]
IMAGE_FORMATS = ["PNG", "JPEG"]
IGNORED_NAMES = ["desktop.ini", "thumbs.db"]
SPLIT_DIRS = {"train": ["train", "training"], "val": ["val", "valid", "validation"],
              "test": ["test"]}
SPLIT_FILE: str | None = None
MODES, OPTIMIZERS = ["recommended", "full", "scratch"], ["sgd", "adam", "adamw"]
SCHEDULES = ["constant", "step", "cosine"]
OPTIMIZER, WEIGHT_DECAY, SEED, WORKERS = "sgd", 0.0001, 0, 0
VAL_FRACTION, SPLIT_SEED = 0.2, 0
CLASS_WEIGHTS, AMP = False, False


def build_model(pretrained: bool = True) -> nn.Module:
    """A small torchvision network with NUM_CLASSES outputs."""
    model = models.resnet18(weights=models.ResNet18_Weights.DEFAULT if pretrained else None)
    model.fc = nn.Linear(512, NUM_CLASSES)
    return model
