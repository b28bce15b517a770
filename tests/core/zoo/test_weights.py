"""Reading weight files safely and loading what fits."""

import os
import pickle

import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from torchvision.models import mnasnet0_5, resnet18

from designer.base.errors import DesignerError
from designer.zoo.weights import LoadReport, file_sha256, load_into, read_state_dict


class _Evil:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _small():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))


@pytest.mark.parametrize("how", ["torch.save", "pickle2", "pickle5"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"weight": torch.zeros(2), "x": _Evil(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=int(how[-1])))
    with pytest.raises(DesignerError, match="contains code, not just weights"):
        read_state_dict(path)
    assert not marker.exists()


def test_missing_and_junk_files_give_clear_errors(tmp_path):
    with pytest.raises(DesignerError, match="does not exist"):
        read_state_dict(tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(DesignerError, match="not a weights file"):
        read_state_dict(junk)
    bad_st = tmp_path / "junk.safetensors"
    bad_st.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(DesignerError, match="not a weights file") as caught:
        read_state_dict(bad_st)
    assert "Error" not in str(caught.value)  # issue 22, item 10: no exception class names for the user
    no_tensors = tmp_path / "meta.pt"
    torch.save({"epoch": 3, "lr": 0.1}, no_tensors)
    with pytest.raises(DesignerError, match="no weight tensors"):
        read_state_dict(no_tensors)


def test_wrappers_and_ddp_prefix_are_removed(tmp_path):
    sd = _small().state_dict()
    path = tmp_path / "ckpt.pt"
    torch.save({"epoch": 5, "state_dict": {f"module.{k}": v for k, v in sd.items()}}, path)
    loaded = read_state_dict(path)
    assert list(loaded) == list(sd)
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)


def test_numpy_numbers_beside_the_weights_are_fine(tmp_path):
    import numpy as np
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": _small().state_dict(), "best_acc": np.float64(0.9), "hist": np.arange(3)}, path)
    assert "3.weight" in read_state_dict(path)


def test_numpy_object_arrays_are_still_refused(tmp_path):
    import numpy as np
    marker = tmp_path / "pwned"
    path = tmp_path / "ckpt.pth"
    torch.save({"w": torch.zeros(1), "objs": np.array([_Evil(marker)], dtype=object)}, path)
    with pytest.raises(DesignerError, match="contains code"):
        read_state_dict(path)
    assert not marker.exists()


def test_safetensors_round_trip(tmp_path):
    model = _small()
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    other = _small()
    report = load_into(other, read_state_dict(path))
    assert report.ok and len(report.matched) == len(model.state_dict())
    for key, value in model.state_dict().items():
        assert torch.equal(other.state_dict()[key], value)
    assert len(file_sha256(path)) == 64


def test_load_into_reports_mismatch_and_keeps_the_rest(tmp_path):
    source = resnet18(weights=None, num_classes=10)
    target = resnet18(weights=None)
    fc_before = target.fc.weight.clone()
    sd = dict(source.state_dict())
    sd["extra.weight"] = torch.zeros(1)
    del sd["layer1.0.conv1.weight"]
    report = load_into(target, sd)
    assert ("fc.weight", (10, 512), (1000, 512)) in report.mismatched
    assert "extra.weight" in report.unexpected and report.missing == ["layer1.0.conv1.weight"]
    assert not report.ok
    assert torch.equal(target.conv1.weight, source.conv1.weight)
    assert torch.equal(target.fc.weight, fc_before)
    text = report.summary()
    assert "fc.weight" in text and "\n" not in text


def test_report_summary_when_everything_fits():
    report = LoadReport(matched=["a", "b"])
    assert report.ok and report.summary() == "Loaded 2 of 2 weight tensors. Everything fit."


def test_old_files_without_num_batches_tracked_still_fit():
    model = _small()
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert load_into(_small(), sd).ok


def test_versioned_layers_load_from_safetensors_without_metadata(tmp_path):
    # MNASNet refuses a state dict without module versions; safetensors carries none.
    model = mnasnet0_5(weights=None)
    path = tmp_path / "m.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    assert load_into(mnasnet0_5(weights=None), read_state_dict(path)).ok


def test_weights_of_the_wrong_kind_or_not_finite_are_refused(tmp_path):
    from designer.zoo.weights import load_strict

    good = _small().state_dict()
    for name, change, words in (("nan", lambda v: torch.full_like(v, float("nan")), "NaN or infinite"),
                                ("bool", lambda v: v.bool(), "bool values"),
                                ("int8", lambda v: v.to(torch.int8), "int8 values"),
                                ("complex", lambda v: v.to(torch.complex64), "complex64 values")):
        bad = {k: change(v) if v.is_floating_point() else v for k, v in good.items()}
        torch.save(bad, tmp_path / f"{name}.pt")
        for load in (lambda p: load_into(_small(), read_state_dict(p)), lambda p: load_strict(_small(), p)):
            with pytest.raises(DesignerError, match=words):
                load(tmp_path / f"{name}.pt")


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    import zipfile

    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("archive/data.pkl", "w") as fh:
        for _ in range(64):
            fh.write(bytes(1 << 20))
    with pytest.raises(DesignerError, match="would unpack to"):
        read_state_dict(bomb)


def test_a_folder_is_not_a_weights_file(tmp_path):
    with pytest.raises(DesignerError, match="is a folder, not a weights file"):
        read_state_dict(tmp_path)
