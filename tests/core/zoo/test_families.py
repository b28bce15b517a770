"""The per-family registry: every gallery model belongs to a family, and what the registry says
about it holds for the built network."""

import pytest

from designer.model.build import build
from designer.model.recipe import Recipe
from designer.zoo import families
from designer.zoo.sources import SOURCES, list_models


def test_every_gallery_model_has_a_known_family_and_source():
    # timm's networks carry their family knowledge in timm's own pretrained configs (timm_zoo).
    for info in list_models(("torchvision", "lite0")):
        family = families.family_of(info.name)
        assert family.name in families.BY_NAME, info.name
        assert families.source_for(info.name) == info.source
    assert families.source_for("pkg.mod:make") == "builder"
    assert all(families.source_for(i.name) == "timm" for i in list_models(("timm",)))
    assert families.family_of("somenet").name == "somenet" and not families.family_of("somenet").classifier_paths


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "mobilenet_v2", "squeezenet1_0",
                                  "densenet121", "vgg11", "vit_b_16", "efficientnet_lite0"])
def test_the_classifier_is_where_the_registry_says(name):
    design = build(Recipe.for_model(name, weights="none"))
    assert design.classifier_path in families.family_of(name).classifier_paths


def test_sizing_and_aux_heads_are_data():
    assert families.family_of("vit_b_16").sizing == "vit"
    assert families.family_of("efficientnet_lite0").sizing == "same"
    assert families.family_of("inception_v3").aux_prefixes and families.family_of("googlenet").arch_kwargs
    assert SOURCES["lite0"].builder_takes_size and not SOURCES["torchvision"].builder_takes_size
