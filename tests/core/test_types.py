"""The types the type check (mypy, .ci/run) leans on: the GUI's state is fully typed, and the small
typed helpers added for it keep their runtime promises (a clear error, never a wrong object)."""

from __future__ import annotations

import dataclasses
from typing import get_args

import pytest
from torch import nn

from designer.app.document import DesignState
from designer.base.errors import DesignerError
from designer.model.surgery import get_conv
from designer.train import options as train_options
from designer.train.events import BatchEvent, EpochEvent, event_of


def test_design_state_fields_name_real_types():
    annotations = {f.name: str(f.type) for f in dataclasses.fields(DesignState)}
    assert annotations == {
        "recipe": "Recipe",
        "design": "Design",
        "graph": "nx.DiGraph[str]",
        "report": "Report",
        "policy": "Policy | None",
        "layer_state": "dict[str, LayerState]",
    }
    assert not any("Any" in text for text in annotations.values())


def test_option_choices_are_the_literal_types_the_fields_accept():
    assert train_options.OPTIMIZERS == get_args(train_options.Optimizer) == ("sgd", "adam", "adamw")
    assert train_options.SCHEDULES == get_args(train_options.Schedule)
    assert train_options.DEVICES == get_args(train_options.Device)
    assert train_options.MODES == get_args(train_options.Mode)
    assert train_options.PLAN_FIELDS == get_args(train_options.PlanField)
    for mode in train_options.MODES:
        assert train_options.TrainOptions(mode=mode).mode == mode


@pytest.mark.parametrize(("field", "value", "words"), [
    ("lr", 0.0, "greater than 0"),  # a low-open bound: (0, 10]
    ("momentum", 1.5, "less than or equal to 0.999"),
    ("epochs", 0, "greater than or equal to 1"),
    ("batch_size", 5000, "less than or equal to 4096"),
    ("budget_s", 5.0, "greater than or equal to 10"),
    ("fixed", ["lr"], "'epochs', 'batch_size', 'warmup_epochs' or 'schedule'"),
])
def test_option_bounds_in_annotated_metadata_still_hold(field, value, words):
    with pytest.raises(DesignerError, match=f"'{field}'") as caught:
        train_options.TrainOptions(**{field: value})
    assert words in caught.value.message


def test_event_of_gives_the_asked_kind_or_a_clear_error():
    epoch = EpochEvent(epoch=2, train_loss=0.5, train_acc=0.8, val_loss=None, val_acc=None, lr=0.01,
                       epoch_time_s=1.0, best_val_acc=None, best_epoch=0, is_best=True)
    assert event_of(epoch.to_dict(), EpochEvent) == epoch
    with pytest.raises(DesignerError, match="Expected a 'batch' training event, got 'epoch'"):
        event_of(epoch.to_dict(), BatchEvent)


def test_get_conv_names_what_is_there_instead():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    assert get_conv(model, "0") is model[0]
    with pytest.raises(DesignerError, match="The layer 1 is a ReLU, not a 2-D convolution"):
        get_conv(model, "1")
