"""Property-based fuzzing (hypothesis) of every reader of outside input (issue 23): project files,
run folders, weight files and the CLI's flags. Each generated input is either accepted or refused
with a ``DesignerError`` (the CLI's one line and exit 2); anything else is an internal error and
fails the test. Over 10,000 inputs in all; slow, so marked for CI's full run. The examples are
derandomized: a failure is reproduced by running the test again."""

from __future__ import annotations

import json
import math
import os
from collections import OrderedDict

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from designer.app.project import load_project, project_from_dict
from designer.base.errors import DesignerError
from designer.base.safeio import loads_json
from designer.cli import flags
from designer.cli.train import parse_augment
from designer.data.split import DatasetSplit
from designer.launch.placement import Placement
from designer.train.runs import compare_runs, load_run
from designer.zoo.weights import load_into, read_state_dict

pytestmark = pytest.mark.slow

FUZZ = settings(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))

# Values as JSON holds them, odd ones favoured: huge, negative, non-finite, odd text, wrong types.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from([0, -1, 2**31, 2**63, 10**30, 10**300]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["", "resnet18", "torchvision", "adapt", "layer1", "fc", "../../etc/passwd", "/dev/zero",
                     "\x00", "os:system", "x" * 5000, "²", "\u202e", "set_input", "freeze"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)

OP_NAMES = ["set_input", "replace_classifier", "delete_layer", "insert_after", "replace_layer", "set_layer_params",
            "freeze", "freeze_until", "set_lr_factor", "lr_preset", "set_batchnorm_mode", "nonsense"]
FIELDS = ["height", "width", "channels", "conv_mode", "num_classes", "dropout", "hidden", "batchnorm", "path",
          "layer", "params", "frozen", "factor", "name", "head_factor", "rest_factor", "decay", "mode", "type",
          "args"]
ops = st.builds(lambda name, extra: {"op": name, **extra}, st.sampled_from(OP_NAMES),
                st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4))
bases = st.fixed_dictionaries({"source": st.sampled_from(["torchvision", "timm", "builder", "file", "evil"]),
                               "name": st.sampled_from(["resnet18", "nope", "os:system", "", 5]),
                               "weights": st.sampled_from(["none", "default", "/dev/zero", 3, None])})
SECTIONS = ["classes", "data", "training", "runs", "explain", "recipe", "format", "version"]
projects = st.builds(
    lambda base, op_list, extra, version: {"format": "netsurgeon-project", "version": version,
                                           "recipe": {"base": base, "ops": op_list}, **extra},
    bases, st.lists(ops, max_size=3), st.dictionaries(st.sampled_from(SECTIONS), json_values, max_size=3),
    st.sampled_from([0, 1, 1, 1, 2, -1, "1", True, None]))


def _refused_or_accepted(fn, *args):
    try:
        fn(*args)
    except DesignerError:
        pass


@settings(FUZZ, max_examples=2500)
@given(projects)
def test_project_dicts(data):
    _refused_or_accepted(project_from_dict, data)


@settings(FUZZ, max_examples=1200)
@given(st.one_of(projects.map(lambda d: json.dumps(d, allow_nan=True)), st.text(max_size=200),
                 st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                 st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
                 st.integers(1, 6000).map(lambda n: '{"format": "netsurgeon-project", "version": ' + "1" * n + "}")))
def test_project_files(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("p") / "p.nsd.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _refused_or_accepted(load_project, path)


# --- run folders -------------------------------------------------------------------------------

RUN_KEYS = ["status", "mode", "best_val_acc", "epochs", "plan", "outcome", "time_s", "num_train", "classes",
            "options", "seed", "val_fraction", "train", "val", "test", "root", "skipped", "warnings", "layout"]
run_files = st.dictionaries(st.sampled_from(RUN_KEYS), json_values, max_size=6)
epochs = st.lists(st.dictionaries(st.sampled_from(["epoch", "val_acc", "train_loss", "epoch_time_s", "x"]),
                                  json_values, max_size=4), max_size=4)


@settings(FUZZ, max_examples=2500)
@given(run_files, run_files, run_files, st.one_of(epochs, json_values), run_files)
def test_run_folders(tmp_path_factory, options, history, summary, epoch_list, split):
    folder = tmp_path_factory.mktemp("run")
    history = {**history, "epochs": epoch_list}
    for name, data in (("options.json", options), ("history.json", history), ("summary.json", summary),
                       ("split.json", split)):
        (folder / name).write_text(json.dumps(data, allow_nan=True))
    try:
        run = load_run(folder)
    except DesignerError:
        return
    for attr in ("name", "mode", "status", "best_val_acc", "epochs", "trained_epochs", "plan", "outcome",
                 "time_s", "steps_per_epoch", "has_weights", "classes"):
        getattr(run, attr)
    compare_runs([run])
    _refused_or_accepted(run.split)
    _refused_or_accepted(DatasetSplit.from_dict, split)


# --- weight files --------------------------------------------------------------------------------

DTYPES = [torch.float32, torch.float16, torch.float64, torch.int64, torch.int8, torch.bool, torch.complex64,
          torch.bfloat16, torch.uint8]
KEYS = ["0.weight", "0.bias", "2.weight", "2.bias", "module.0.weight", "x", ""]


@st.composite
def tensors(draw):
    shape = tuple(draw(st.lists(st.integers(0, 5), max_size=3)))
    dtype = draw(st.sampled_from(DTYPES))
    kind = draw(st.sampled_from(["plain", "plain", "nan", "meta", "sparse", "strided-view"]))
    t = torch.zeros(shape, dtype=dtype)
    if kind == "nan" and t.is_floating_point():
        t = t.fill_(math.nan)
    elif kind == "meta":
        t = torch.empty(shape, dtype=dtype, device="meta")
    elif kind == "sparse" and t.dim() >= 1 and dtype not in (torch.bool, torch.bfloat16):
        t = t.to_sparse()
    elif kind == "strided-view" and t.dim() >= 1:
        t = t[::2]
    return t


entries = st.one_of(tensors(), scalars)
state_dicts = st.dictionaries(st.sampled_from(KEYS), entries, max_size=5)
files = st.one_of(state_dicts, st.builds(lambda sd, k: {k: sd}, state_dicts, st.sampled_from(
    ["state_dict", "model", "module", "other"])), st.lists(entries, max_size=3), scalars)


def _tiny() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


@settings(FUZZ, max_examples=2000)
@given(files, st.one_of(st.none(), json_values), st.sampled_from([".pt", ".safetensors", ".bin", ".weird"]))
def test_weight_files(tmp_path_factory, obj, metadata, suffix):
    path = tmp_path_factory.mktemp("w") / f"weights{suffix}"
    if isinstance(obj, dict) and metadata is not None:
        obj = OrderedDict(obj)
        obj._metadata = metadata
    torch.save(obj, path)
    try:
        state = read_state_dict(path)
        load_into(_tiny(), state)
    except DesignerError:
        pass


# --- CLI flags -------------------------------------------------------------------------------------

flag_text = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"-?[0-9]{1,6}x[0-9]{1,6}x[0-9]{1,6}(:[a-z]{0,10})?", fullmatch=True),
    st.from_regex(r"[a-z0-9_.]{0,12}=[A-Za-z0-9]{0,10}(:[a-z_]{1,12}=[-0-9.e()\[\],a-z]{0,14}){0,3}", fullmatch=True),
    st.sampled_from(["nan", "inf", "-0", "1e400", "9" * 5000, "²", "٣", "１", "(" * 500, "[" * 300 + "]" * 300,
                     "fc=nan", "fc:out_features=" + "9" * 5000, "layer1=Conv2d:out_channels=" + "(" * 200]))
PARSERS = [flags.parse_input, flags.parse_set, flags.parse_lr_factor, lambda t: flags.parse_layer(t, "--insert-after"),
           parse_augment, Placement.parse, flags.number(0, 10), flags.number(1, 4096, whole=True), flags.file_stem]


@settings(FUZZ, max_examples=2500)
@given(st.sampled_from(range(len(PARSERS))), flag_text)
def test_flag_parsers(which, text):
    import argparse

    try:
        PARSERS[which](text)
    except (DesignerError, argparse.ArgumentTypeError):
        pass


@settings(FUZZ, max_examples=200)
@given(st.sampled_from(["--input", "--depth", "--memory-limit", "--json"]), flag_text)
def test_cli_flags_end_to_end(capsys, flag, text):
    from designer.cli.main import main

    try:
        code = main(["inspect", "resnet18", flag, text] if flag != "--json" else ["inspect", text, "--json"])
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code
    err = capsys.readouterr().err
    assert code in (0, 1, 2) and "Unexpected problem" not in err and "Traceback" not in err, err[-500:]


def test_json_limits_hold_for_every_depth():
    for depth in (63, 64, 65, 995, 5000):
        text = "[" * depth + "]" * depth
        try:
            loads_json(text, "x")
        except DesignerError:
            assert depth > 63
    assert os.environ.get("NETSURGEON_STATE_DIR")  # logs of a failure go to the test's own folder
