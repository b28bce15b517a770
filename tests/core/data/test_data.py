"""Image folders, splits, transforms and the never-crash loader (tiny generated images)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from PIL import Image
from testkit.data import make_digits_folder, make_shapes_folder, truncate_file

from designer.base.errors import DesignerError
from designer.data.folders import scan_folder
from designer.data.loading import ImageDataset, collate_skip_failed, make_loader
from designer.data.split import DatasetSplit, class_weights
from designer.data.transforms import Augment, make_transform, preview_grid


@dataclass
class FakeDesign:
    input_shape: tuple = (3, 32, 32)
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)
    replicate_grey: bool = False


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_shapes_folder(tmp_path_factory.mktemp("shapes"), per_class=10, size=24, corrupt=4)


def test_scan_flat_counts_and_skips_bad_files(shapes):
    split = scan_folder(shapes, val_fraction=0.2, seed=0)
    assert split.classes == ["circle", "square", "triangle"]
    assert split.class_counts() == {"circle": 10, "square": 10, "triangle": 10}
    assert split.class_counts("val") == {"circle": 2, "square": 2, "triangle": 2}
    assert len(split.skipped) == 4 and all("bad_" in p for p, _ in split.skipped)
    reasons = " ".join(r for _, r in split.skipped)
    assert "empty file" in reasons and "not an image" in reasons
    assert split.imbalance_ratio() == 1.0 and not split.warnings


def test_summary_lists_each_skipped_file(shapes):
    split = scan_folder(shapes)
    text = split.summary()
    assert f"{len(split.skipped)} files skipped:" in text
    for path, reason in split.skipped:
        assert f"skipped {path}: {reason}" in text
    assert "... and 2 more" in split.summary(max_skipped=len(split.skipped) - 2)


def test_split_is_stratified_disjoint_and_seeded(shapes):
    a, b, c = (scan_folder(shapes, val_fraction=0.3, seed=s) for s in (1, 1, 2))
    assert a.train == b.train and a.val == b.val
    assert set(a.val) != set(c.val)
    assert not set(a.train) & set(a.val)
    assert len(a.train) + len(a.val) == 30
    assert set(a.class_counts("val").values()) == {3}


def test_test_fraction_and_roundtrip(shapes):
    split = scan_folder(shapes, val_fraction=0.2, test_fraction=0.2, seed=0)
    assert set(split.class_counts("test").values()) == {2}
    again = DatasetSplit.from_dict(split.to_dict())
    assert again.train == split.train and again.test == split.test and again.classes == split.classes


def test_split_layout(tmp_path):
    root = make_shapes_folder(tmp_path, classes=("circle", "square"), per_class=6, size=16, layout="split")
    split = scan_folder(root)
    assert split.layout == "split" and split.classes == ["circle", "square"]
    assert split.class_counts("train") == {"circle": 6, "square": 6}
    assert split.class_counts("val") == {"circle": 2, "square": 2}


def test_train_test_layout_carves_validation_from_train(tmp_path):
    root = make_shapes_folder(tmp_path, classes=("circle", "square"), per_class=8, size=16, layout="split")
    (root / "val").rename(root / "test")
    split = scan_folder(root, val_fraction=0.25, seed=0)
    assert split.layout == "split"
    assert split.class_counts("train") == {"circle": 6, "square": 6}
    assert split.class_counts("val") == {"circle": 2, "square": 2}
    assert split.class_counts("test") == {"circle": 2, "square": 2}


def test_bad_folders_raise(tmp_path):
    with pytest.raises(DesignerError, match="does not exist"):
        scan_folder(tmp_path / "nope")
    with pytest.raises(DesignerError, match="no sub-folders"):
        scan_folder(tmp_path)
    make_shapes_folder(tmp_path / "one", classes=("circle",), per_class=3, size=8)
    with pytest.raises(DesignerError, match="at least 2"):
        scan_folder(tmp_path / "one")


def test_empty_class_warns_and_is_left_out(tmp_path):
    root = make_shapes_folder(tmp_path, classes=("circle", "square"), per_class=4, size=8)
    (root / "empty").mkdir()
    split = scan_folder(root)
    assert split.classes == ["circle", "square"]
    assert any("'empty' has no usable images" in w for w in split.warnings)


def test_imbalance_warning_and_class_weights(tmp_path):
    root = make_shapes_folder(tmp_path, classes=("circle", "square"), per_class={"circle": 20, "square": 4},
                              size=8)
    split = scan_folder(root, val_fraction=0.25)
    assert split.imbalance_ratio() == pytest.approx(15 / 3)
    assert any("imbalanced" in w for w in split.warnings)
    w = split.class_weights()
    assert w[1] / w[0] == pytest.approx(5.0) and np.mean(w) == pytest.approx(1.0)


def test_class_weights_inverse_frequency():
    w = class_weights([10, 5, 20])
    assert np.mean(w) == pytest.approx(1.0)
    assert [wi * n for wi, n in zip(w, [10, 5, 20])] == pytest.approx([w[0] * 10] * 3)
    assert class_weights([4, 0])[1] == 0.0


@pytest.mark.parametrize("design, shape", [
    (FakeDesign((3, 20, 28)), (3, 20, 28)),
    (FakeDesign((1, 16, 16), (0.5,), (0.5,)), (1, 16, 16)),
    (FakeDesign((3, 16, 16), replicate_grey=True), (3, 16, 16)),
    (FakeDesign((1, 16, 16), (0.5,), (0.5,), replicate_grey=True), (3, 16, 16)),  # shape as the data sees it
    (FakeDesign((4, 8, 8), (0.5,) * 4, (0.5,) * 4), (4, 8, 8)),
])
def test_transform_shapes(design, shape):
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8))
    x = make_transform(design)(rgb)
    assert x.shape == shape and x.dtype == torch.float32


def test_replicate_grey_repeats_before_normalize():
    design = FakeDesign((3, 8, 8), (0.5,) * 3, (0.25,) * 3, replicate_grey=True)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8))
    x = make_transform(design)(img)
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])
    grey = torch.from_numpy(np.asarray(img.convert("L"), dtype=np.float32) / 255)
    assert torch.allclose(x[0], (grey - 0.5) / 0.25, atol=1e-5)
    # Per-channel mean/std are applied after the repeat, so channels then differ as they should.
    y = make_transform(FakeDesign((3, 8, 8), replicate_grey=True))(img)
    assert not torch.equal(y[0], y[1])


def test_mismatched_normalisation_raises():
    with pytest.raises(DesignerError, match="normalisation"):
        make_transform(FakeDesign((1, 8, 8)))


def test_augment_dict_roundtrip_and_validation():
    aug = Augment(hflip=True, rotation=10, translate=0.1, scale=(0.9, 1.1), color=0.2)
    assert Augment.from_dict(aug.to_dict()) == aug and Augment.from_dict(None) == Augment()
    with pytest.raises(DesignerError):
        Augment(scale=(1.2, 0.8))


def test_augment_only_when_training():
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8))
    aug = Augment(hflip=True, rotation=30, color=0.5)
    plain = make_transform(FakeDesign((3, 16, 16)), aug, train=False)
    assert torch.equal(plain(img), plain(img))
    train = make_transform(FakeDesign((3, 16, 16)), aug, train=True)
    torch.manual_seed(0)
    assert not all(torch.equal(train(img), train(img)) for _ in range(3))


def test_preview_grid_is_seeded_uint8(shapes):
    split = scan_folder(shapes)
    tf = make_transform(FakeDesign((3, 24, 24)), Augment(hflip=True, rotation=20), train=True)
    a, b = preview_grid(split.train, tf, n=6, seed=3, cols=3), preview_grid(split.train, tf, n=6, seed=3, cols=3)
    assert a.mode == "RGB" and a.size == (3 * 26 + 2, 2 * 26 + 2)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    # Un-normalised: the tile pixels stay within the shapes' dark-background/bright-colour range.
    assert np.asarray(a).dtype == np.uint8 and np.asarray(a).max() > 150


def test_file_gone_bad_after_scan_is_skipped_not_fatal(tmp_path):
    root = make_shapes_folder(tmp_path, classes=("circle", "square"), per_class=4, size=16)
    split = scan_folder(root, val_fraction=0.0)
    bad = split.train[0][0]
    truncate_file(bad)
    loader = make_loader(split.train, make_transform(FakeDesign((3, 16, 16))), batch_size=3, shuffle=True)
    batches = list(loader)
    assert sum(len(b.labels) for b in batches) == 7
    assert [p for b in batches for p, _ in b.failed] == [bad]


def test_worker_processes_report_failed_files_too(tmp_path):
    root = make_shapes_folder(tmp_path, classes=("circle", "square"), per_class=4, size=16)
    split = scan_folder(root, val_fraction=0.0)
    bad = split.train[5][0]
    truncate_file(bad)
    tf = make_transform(FakeDesign((3, 16, 16)))
    loader = make_loader(split.train, tf, batch_size=3, shuffle=True, workers=2, seed=1)
    batches = list(loader)
    assert sum(len(b.labels) for b in batches) == 7
    assert [p for b in batches for p, _ in b.failed] == [bad]
    inline = [b.indices.tolist() for b in make_loader(split.train, tf, batch_size=3, shuffle=True, seed=1)]
    assert [b.indices.tolist() for b in batches] == inline  # same seeded order with or without workers


def test_collate_all_failed_gives_empty_batch(tmp_path):
    ds = ImageDataset([(str(tmp_path / "missing.png"), 0)], transform=None)
    batch = collate_skip_failed([ds[0]])
    assert batch.labels.numel() == 0 and len(batch.failed) == 1


def test_loader_order_is_seeded(shapes):
    split = scan_folder(shapes)
    tf = make_transform(FakeDesign((3, 8, 8)))
    runs = [[b.indices.tolist() for b in make_loader(split.train, tf, 5, shuffle=True, seed=s)] for s in (4, 4, 5)]
    assert runs[0] == runs[1] != runs[2]


def test_digits_folder_is_grey(tmp_path):
    root = make_digits_folder(tmp_path, per_class=3, size=16)
    split = scan_folder(root, val_fraction=0.0)
    assert len(split.classes) == 10 and len(split.train) == 30
    with Image.open(split.train[0][0]) as img:
        assert img.mode == "L" and img.size == (16, 16)


def test_folders_deciding_split_names_train_and_val_only_when_both_are_there(tmp_path):
    """Issue 22, item 7: the Data tab disables its split controls where train/ and val/ decide."""
    from designer.data.folders import folders_deciding_split

    split = make_shapes_folder(tmp_path / "split", per_class=3, size=16, layout="split")
    assert folders_deciding_split(split) == ("train", "val")
    assert folders_deciding_split(make_shapes_folder(tmp_path / "flat", per_class=3, size=16)) is None
    (split / "val").rename(split / "test")  # train/ and test/ only: validation is still split off here
    assert folders_deciding_split(split) is None
    assert folders_deciding_split(tmp_path / "missing") is None and folders_deciding_split("") is None
