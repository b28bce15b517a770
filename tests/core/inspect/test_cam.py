"""Class-activation maps (issue 14): a tiny network trained to look at one corner gets its map
there, with Grad-CAM and with the gradient-free feature ablation; the target layer's default and
the checks on a chosen one; ViT tokens reshaped to their grid; overlays; cancelling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from designer.base.errors import DesignerError
from designer.base.jobs import JobCancelled, JobControl
from designer.inspect.cam import MAX_REGIONS, class_maps, region_mask
from designer.inspect.cam_layers import default_target, target_for, token_grid
from designer.inspect.overlay import colourise, overlay

SIDE = 16
CORNER = 4  # the blob's side

pytestmark = pytest.mark.usefixtures("one_thread")


def corner_batch(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Grey noise with a dark distractor blob anywhere; label 1 images also hold a bright blob in
    the top-left corner, the only evidence for their class."""
    x = 0.4 + 0.2 * torch.rand(n, 1, SIDE, SIDE, generator=generator)
    labels = torch.randint(0, 2, (n,), generator=generator)
    spots = torch.randint(0, SIDE - CORNER + 1, (n, 2), generator=generator)
    for k in range(n):
        top, left = spots[k].tolist()
        x[k, 0, top:top + CORNER, left:left + CORNER] = 0.0
        if labels[k]:
            x[k, 0, :CORNER, :CORNER] = 1.0
    return x, labels


def corner_image() -> torch.Tensor:
    """A class-1 image: the bright blob top-left, the dark distractor bottom-right."""
    image = torch.full((1, SIDE, SIDE), 0.5)
    image[0, -CORNER:, -CORNER:] = 0.0
    image[0, :CORNER, :CORNER] = 1.0
    return image


def corner_net() -> nn.Module:
    """A tiny classifier shaped like the real ones: convolutions, global pooling, a linear head."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),  # "4": an 8x8 map, the default target
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2),
    )


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = corner_net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(300):
        x, y = corner_batch(32, generator)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, y = corner_batch(200, generator)
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.95, accuracy
    return model.eval()


def top_left_share(heat: np.ndarray) -> float:
    return float(heat[: SIDE // 2, : SIDE // 2].sum() / max(heat.sum(), 1e-12))


@pytest.mark.parametrize("method", ["gradcam", "ablation"])
def test_the_map_of_a_network_that_looks_at_one_corner_lights_that_corner(trained, method):
    target = default_target(trained, (1, SIDE, SIDE), classifier_path="7")
    assert (target.path, target.grid, target.tokens, target.on_input) == ("4", (8, 8), False, False)
    (heat,) = class_maps(trained, corner_image(), [1], target, method)
    assert heat.shape == (SIDE, SIDE) and heat.dtype == np.float32
    assert heat.max() == pytest.approx(1.0) and heat.min() >= 0.0
    assert top_left_share(heat) > 0.6, top_left_share(heat)  # a quarter of the image by chance
    peak = np.unravel_index(heat.argmax(), heat.shape)
    assert peak[0] < SIDE // 2 and peak[1] < SIDE // 2


def test_two_classes_are_mapped_in_one_call(trained):
    target = default_target(trained, (1, SIDE, SIDE), classifier_path="7")
    for method in ("gradcam", "ablation"):
        maps = class_maps(trained, corner_image(), [0, 1], target, method)
        assert maps.shape == (2, SIDE, SIDE)
        np.testing.assert_allclose(maps[1], class_maps(trained, corner_image(), [1], target, method)[0], atol=1e-5)


def test_a_chosen_layer_is_checked(trained):
    assert target_for(trained, (1, SIDE, SIDE), "1").grid == (16, 16)
    with pytest.raises(DesignerError, match="There is no layer named nothing"):
        target_for(trained, (1, SIDE, SIDE), "nothing")
    with pytest.raises(DesignerError, match="not a map over the image"):
        target_for(trained, (1, SIDE, SIDE), "7")  # the Linear head
    shared = nn.ReLU()
    model = nn.Sequential(nn.Conv2d(1, 4, 3), shared, nn.Conv2d(4, 4, 3), shared, nn.Flatten(),
                          nn.Linear(4 * 144, 2))
    with pytest.raises(DesignerError, match="runs 2 times"):
        target_for(model, (1, SIDE, SIDE), "1")


def test_default_layers_of_real_architectures():
    from torchvision.models import resnet18

    from designer.model.build import build
    from designer.model.recipe import Recipe

    # Issue 22, item 9: the last layer whose map is at least 7x7, not a 2x2 one that paints blobs
    assert default_target(resnet18(num_classes=3), (3, 224, 224), "fc").path == "layer4"  # 7x7
    assert default_target(resnet18(num_classes=3), (3, 64, 64), "fc").grid == (8, 8)  # layer4 is 2x2 there
    assert default_target(resnet18(num_classes=3), (3, 64, 64), "fc").path == "layer2"
    assert default_target(resnet18(num_classes=3), (3, 32, 32), "fc").path == "layer1"
    lite0 = build(Recipe.for_model("efficientnet_lite0", weights="none"))
    target = default_target(lite0.model, (3, 224, 224), lite0.classifier_path)
    # its last map goes through ReLU6, a module the stem uses too: the map is taken where the pooling gets it
    assert (target.path, target.on_input, target.grid, target.channels) == ("_avg_pooling", True, (7, 7), 1280)
    assert target.describe() == "the input of layer _avg_pooling (1280x7x7)"
    # at 64x64 a block's output, not the padding inside a strided conv (larger than what its block gives)
    target = default_target(lite0.model, (3, 64, 64), lite0.classifier_path)
    assert (target.path, target.grid) == ("_blocks.4", (8, 8))


def test_without_a_7x7_map_the_largest_map_is_the_default():
    from torchvision.models import resnet18

    assert default_target(resnet18(num_classes=3), (3, 16, 16), "fc").grid == (8, 8)  # the stem's
    small = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4, 2))
    assert default_target(small, (1, 6, 6), "5").grid == (6, 6)  # the first conv's: none is 7x7


def tiny_vit():
    from torchvision.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    vit = VisionTransformer(image_size=32, patch_size=8, num_layers=3, num_heads=2, hidden_dim=16, mlp_dim=32,
                            num_classes=3).eval()
    nn.init.normal_(vit.heads.head.weight, std=0.5)  # torchvision starts it at 0: no gradient would flow
    return vit


def test_vit_tokens_are_mapped_as_their_patch_grid():
    vit = tiny_vit()
    target = default_target(vit, (3, 32, 32), "heads.head")
    # the last block's input: after the last block only the class token reaches the head
    assert (target.path, target.tokens, target.prefix, target.grid) == ("encoder.layers.encoder_layer_1", True, 1,
                                                                       (4, 4))
    image = torch.randn(3, 32, 32)
    for method in ("gradcam", "ablation"):
        maps = class_maps(vit, image, [0, 1, 2], target, method)  # random weights: some class has evidence
        assert maps.shape == (3, 32, 32) and maps.max() == pytest.approx(1.0)
    last = target_for(vit, (3, 32, 32), "encoder.ln")
    blank = class_maps(vit, image, [0, 1, 2], last, "gradcam")
    assert not blank.any()  # its patch tokens never reach the prediction: no evidence, not noise


def test_token_grids():
    assert token_grid(197, (224, 224)) == (1, 14, 14)
    assert token_grid(196, (224, 224)) == (0, 14, 14)
    assert token_grid(1 + 8 * 16, (128, 256)) == (1, 8, 16)
    assert token_grid(3, (224, 224)) is None


def test_ablation_regions_are_bounded():
    mask = region_mask((56, 56))
    assert mask.shape == (1, 1, 56, 56) and int(mask.max()) + 1 <= MAX_REGIONS
    assert int(region_mask((7, 7)).max()) + 1 == 49  # small maps: one region per position


def test_cancelling_stops_a_map(trained):
    target = default_target(trained, (1, SIDE, SIDE), classifier_path="7")
    control = JobControl()
    control.cancel()
    with pytest.raises(JobCancelled):
        class_maps(trained, torch.zeros(1, SIDE, SIDE), [1], target, "ablation", cancel=control)


def test_overlay_draws_the_map_over_the_picture():
    picture = np.full((40, 60, 3), 128, dtype=np.uint8)
    heat = np.zeros((16, 16), dtype=np.float32)
    heat[:8, :8] = 1.0
    assert np.array_equal(overlay(picture, heat, 0.0), picture)
    drawn = overlay(picture, heat, 1.0)
    assert drawn.shape == picture.shape and drawn.dtype == np.uint8
    assert tuple(drawn[2, 2]) == tuple(colourise(np.ones((1, 1)))[0, 0])  # full strength where the map is 1
    assert np.abs(drawn[-2, -2].astype(int) - 128).max() < np.abs(drawn[2, 2].astype(int) - 128).max()
    assert overlay(picture[:, :, 0], heat, 0.5).shape == (40, 60, 3)  # grey pictures too


def test_ablation_runs_the_layers_before_the_target_once_per_batch_with_the_same_maps(trained, monkeypatch):
    from designer.inspect import cam

    target = default_target(trained, (1, SIDE, SIDE), classifier_path="7")
    batches = []
    handle = trained[0].register_forward_hook(lambda m, a, out: batches.append(out.shape[0]))
    fast = class_maps(trained, corner_image(), [0, 1], target, "ablation")
    handle.remove()
    assert set(batches) == {1}  # the first conv saw one copy, never the 16 perturbed ones
    every_copy = cam._scores
    monkeypatch.setattr(cam, "_scores", lambda model, cancel, copies_of_one=False: every_copy(model, cancel))
    np.testing.assert_allclose(fast, class_maps(trained, corner_image(), [0, 1], target, "ablation"), atol=1e-6)


class BatchFromInput(nn.Module):
    """Reshapes by its input's batch size after the map, as EfficientNet-Lite0 does."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.features, self.head = net[:5], net[5:]

    def forward(self, x):
        pooled = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.head[2](pooled.view(x.shape[0], -1))


def test_ablation_still_works_when_the_network_reshapes_by_its_input_batch(trained):
    net = BatchFromInput(trained).eval()
    target = target_for(net, (1, SIDE, SIDE), "features.4")
    np.testing.assert_allclose(class_maps(net, corner_image(), [1], target, "ablation"),
                               class_maps(trained, corner_image(), [1], target_for(trained, (1, SIDE, SIDE), "4"),
                                          "ablation"), atol=1e-6)


def test_a_network_that_does_not_run_is_said_without_an_exception_class_name():
    """Issue 22, item 10: the message named 'RuntimeError'."""
    model = nn.Sequential(nn.Conv2d(3, 4, 5), nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(DesignerError, match="does not run on a 3x3x3 input") as caught:
        default_target(model, (3, 3, 3), "2")
    assert "Error" not in caught.value.message
