"""Image decoding with the real range (16-bit, 32-bit, float) and the size limit."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from testkit.data import make_shapes_folder

from designer.data import images
from designer.data.folders import scan_folder
from designer.data.images import ImageProblem, check_image, load_image


def _ramp(dtype, top) -> np.ndarray:
    return (np.linspace(0, 1, 32 * 32).reshape(32, 32) * top).astype(dtype)


@pytest.mark.parametrize("array, mode, suffix, top", [
    (_ramp(np.uint16, 65535), None, ".png", 255),  # a 16-bit PNG: clipped at 255 it came out almost white
    (_ramp(np.float32, 1.0), "F", ".tif", 255),  # a float TIFF in 0..1: rounded it came out almost black
    (_ramp(np.float32, 4000.0), "F", ".tif", 255),  # floats of another range: their own min..max
    (_ramp(np.int32, 60000), "I", ".tif", 233),  # 32-bit ints holding 16-bit values: out of 65535
])
def test_high_bit_depths_keep_their_range(tmp_path, array, mode, suffix, top):
    path = tmp_path / f"img{suffix}"
    Image.fromarray(array, mode=mode).save(path)
    grey = np.asarray(load_image(str(path)))
    assert grey.dtype == np.uint8 and grey.min() == 0 and grey.max() == top
    assert 0.45 < grey.mean() / top < 0.55  # a ramp stays a ramp, not white or black


def test_eight_bit_images_are_untouched(tmp_path):
    Image.fromarray(_ramp(np.uint8, 255)).save(tmp_path / "a.png")
    assert np.array_equal(np.asarray(load_image(str(tmp_path / "a.png"))), _ramp(np.uint8, 255))


def test_a_float_image_with_nan_is_refused_with_a_reason(tmp_path):
    array = _ramp(np.float32, 1.0)
    array[3, 3] = np.nan
    Image.fromarray(array, mode="F").save(tmp_path / "nan.tif")
    with pytest.raises(ImageProblem, match="NaN"):
        load_image(str(tmp_path / "nan.tif"))


def test_images_above_the_pixel_limit_are_skipped_and_named(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 40 * 40)
    root = make_shapes_folder(tmp_path / "data", per_class=3, size=32)
    Image.new("RGB", (64, 64)).save(root / "circle" / "huge.png")
    assert "too large (64x64 pixels" in check_image(str(root / "circle" / "huge.png"))
    split = scan_folder(root, 0.0)
    assert [p for p, _ in split.skipped if p.endswith("huge.png")] and "too large" in split.summary()
    with pytest.raises(ImageProblem, match="too large"):
        load_image(str(root / "circle" / "huge.png"))  # a file that grew after the scan


def test_unreadable_files_are_explained_without_exception_class_names(tmp_path):
    """Issue 22, item 10: the Data tab listed 'UnidentifiedImageError' and 'OSError' as reasons."""
    from testkit.data import write_bad_files

    from designer.data.loading import ImageDataset
    from designer.train.evaluate import predict

    bad = write_bad_files(tmp_path / "bad", 2)  # a truncated PNG and text named .jpg
    reasons = [check_image(str(p)) for p in bad]
    loaded = [ImageDataset([(str(p), 0)])[0].reason for p in bad]
    predicted = [p.error for p in predict(_tiny_model(), [str(p) for p in bad], topk=1,
                                          transform=lambda img: img)]
    for text in (*reasons, *loaded, *predicted):
        assert text and not any(name in text for name in ("Error", "OSError", "Exception", "object at 0x")), text
    assert "truncated" in reasons[0] and "not a picture format" in reasons[1]
    assert images.why_unreadable(PermissionError(13, "Permission denied")) == \
        "this account is not allowed to read the file"
    assert images.why_unreadable(OSError("broken data stream")) == \
        "cannot be read as an image: the file is damaged (broken data stream)"


def _tiny_model():
    import torch

    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(2))
