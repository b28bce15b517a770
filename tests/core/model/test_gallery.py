"""Every gallery model: build, trace, analyze, new 7-class head, grey 64x64 input, real forward.

Where 64x64 cannot work, the analyzer must say so (an error naming a node and the
smallest working size), not crash. Weight values play no part in shapes, so
``torch.nn.init`` only zero-fills while models are built: random init is most of
the cost of the huge ones (regnet_y_128gf 7.9 s -> 1.5 s, vit_h_14 6.8 s -> 1 s).
"""

import gc

import pytest
import torch
from testkit.fast_build import zero_init_one_thread

from designer.inspect.analysis import analyze
from designer.model.build import BaseCache, build
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe
from designer.zoo.sources import list_models

GALLERY = [info.name for info in list_models(("torchvision", "lite0"))]  # timm: test_timm.py
SIZE = 64
# Models that rightly cannot run at 64x64, with the smallest square input that does.
TOO_SMALL = {"inception_v3": 75, "maxvit_t": 221}


@pytest.fixture(scope="module", autouse=True)
def fast_and_quiet():
    with zero_init_one_thread():
        yield


def test_gallery_is_complete():
    assert len(GALLERY) >= 80 and "efficientnet_lite0" in GALLERY


@pytest.mark.parametrize("name", GALLERY)
def test_gallery_model(name):
    cache = BaseCache()
    recipe = Recipe.for_model(name, weights="none")
    design = build(recipe, cache)
    report = analyze(design)
    assert report.ok, [m.text for m in report.errors]
    assert not report.graph.graph["fallback"]
    assert report.output_shape == (1, design.num_classes)
    assert report.params_total == sum(p.numel() for p in design.model.parameters())
    del design, report

    edited = build(recipe.with_ops(ReplaceClassifier(7), SetInput(SIZE, SIZE, 1)), cache)
    report = analyze(edited)
    if name in TOO_SMALL:
        error = report.errors[0]
        smallest = TOO_SMALL[name]
        assert error.node in report.graph and report.min_input_size == smallest
        assert f"{smallest}x{smallest}" in error.text and isinstance(error.fix, SetInput)
    else:
        assert report.ok, [m.text for m in report.errors]
        assert report.output_shape == (1, 7)
        model = edited.model.eval()
        with torch.no_grad():
            out = model(torch.randn(2, 1, SIZE, SIZE))
        assert out.shape == (2, 7)
    del edited, report, cache
    gc.collect()
