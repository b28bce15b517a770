"""project: versioned JSON project files, atomic saves, migrations, clear errors."""

import json

import pytest
from testkit import REPO

from designer.app import project as project_mod
from designer.app.project import FORMAT_VERSION, MIGRATIONS, Project, load_project, save_project
from designer.base.errors import DesignerError
from designer.model.ops import (
    DeleteLayer,
    Freeze,
    FreezeUntil,
    InsertAfter,
    LayerSpec,
    LRPreset,
    ReplaceClassifier,
    ReplaceLayer,
    SetBatchNormMode,
    SetInput,
    SetLayerParams,
    SetLRFactor,
)
from designer.model.recipe import Recipe

RECIPE = Recipe.for_model("resnet18", weights="none").with_ops(
    SetInput(64, 64, 1, "replicate"), ReplaceClassifier(5, dropout=0.2, hidden=32, batchnorm=True),
    DeleteLayer("layer4.1.relu"), InsertAfter("avgpool", LayerSpec.of("AdaptiveAvgPool2d", output_size=(7, 7))),
    ReplaceLayer("layer1.0.relu", LayerSpec.of("GELU")), SetLayerParams.of("conv1", stride=(1, 1), bias=True),
    Freeze("conv1"), FreezeUntil("layer2"), SetLRFactor("layer3", 0.5), LRPreset("layer_decay", decay=0.8),
    SetBatchNormMode("eval"),
)
PROJECT = Project(recipe=RECIPE, classes=["cat", "dog", "émeu"], data={"folder": "/data/pets", "val_fraction": 0.2},
                  training={"epochs": 3, "lr": 0.001}, runs=["runs/0001"], explain={"layer": "layer3"})


def write(path, data):
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_round_trip_keeps_everything(tmp_path):
    path = tmp_path / "pets.nsd.json"
    save_project(PROJECT, path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["format"] == "netsurgeon-project" and raw["version"] == FORMAT_VERSION == 1
    assert list(raw) == ["format", "version", "recipe", "classes", "data", "training", "runs", "explain"]
    loaded = load_project(path)
    assert loaded == PROJECT and hash(loaded.recipe) == hash(RECIPE)  # tuples survive JSON's lists
    assert [p.name for p in tmp_path.iterdir()] == ["pets.nsd.json"]  # no temp file left behind


def test_defaults_and_overwrite(tmp_path):
    path = tmp_path / "p.nsd.json"
    save_project(PROJECT, path)
    save_project(Project(recipe=Recipe.for_model("efficientnet_lite0")), str(path))
    loaded = load_project(str(path))
    assert loaded.recipe.base.source == "lite0" and loaded.classes == [] and loaded.runs == []


def test_the_heat_map_layer_is_optional_and_checked(tmp_path):
    raw = project_mod.project_to_dict(PROJECT)
    del raw["explain"]  # a file saved before heat maps existed
    assert load_project(write(tmp_path / "old.nsd.json", raw)).explain == {}
    for bad, message in (({"layer": "../x"}, "layer"), ({"layer": 3}, "layer"), ([], "explain")):
        with pytest.raises(DesignerError, match=message):
            load_project(write(tmp_path / "bad.nsd.json", {**raw, "explain": bad}))
    assert load_project(write(tmp_path / "new.nsd.json", {**raw, "explain": {"layer": "x", "later": 1}})).explain


def test_a_failed_save_leaves_the_old_file(tmp_path):
    path = tmp_path / "p.nsd.json"
    save_project(PROJECT, path)
    before = path.read_bytes()
    with pytest.raises(DesignerError, match="not plain data"):
        save_project(Project(recipe=RECIPE, data={"bad": object()}), path)
    with pytest.raises(DesignerError, match="Cannot save"):
        save_project(PROJECT, tmp_path / "missing" / "p.nsd.json")
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_version_0_bare_recipe_is_migrated(tmp_path):
    path = write(tmp_path / "old.json", RECIPE.to_dict())
    loaded = load_project(path)
    assert loaded.recipe == RECIPE and loaded.classes == [] and loaded.data == {} and loaded.training == {}
    assert MIGRATIONS[0](RECIPE.to_dict())["version"] == 1


def test_migrations_run_one_version_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(project_mod, "FORMAT_VERSION", 2)
    monkeypatch.setitem(MIGRATIONS, 1, lambda d: {**d, "version": 2, "classes": [c.upper() for c in d["classes"]]})
    path = write(tmp_path / "v1.nsd.json", {**project_mod.project_to_dict(PROJECT), "version": 1})
    assert load_project(path).classes == ["CAT", "DOG", "ÉMEU"]
    assert load_project(write(tmp_path / "v0.json", RECIPE.to_dict())).recipe == RECIPE  # 0 -> 1 -> 2


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", r"'bad.nsd.json' is not valid JSON \(line 1"),
    ([1, 2], "not a NetSurgeon project"),
    ({"format": "something-else", "version": 1}, "not a NetSurgeon project"),
    ({"format": "netsurgeon-project", "version": "one"}, "no valid format version"),
    ({"format": "netsurgeon-project", "version": 1, "classes": []}, "has no design"),
    ({"format": "netsurgeon-project", "version": 2, "recipe": {}}, "made by a newer NetSurgeon"),
    ({"format": "netsurgeon-project", "version": 1, "recipe": RECIPE.to_dict(), "classes": "cat"}, "list of names"),
    ({"format": "netsurgeon-project", "version": 1, "recipe": RECIPE.to_dict(), "data": []}, "JSON object"),
    ({"format": "netsurgeon-project", "version": 1, "recipe": {"base": {"source": "torchvision", "name": "resnet18"},
                                                               "ops": [{"op": "teleport"}]}}, "Unknown edit step"),
])
def test_bad_files_give_clear_errors(tmp_path, content, message):
    path = write(tmp_path / "bad.nsd.json", content)
    with pytest.raises(DesignerError, match=message):
        load_project(path)


@pytest.mark.parametrize("content", [[1, 2], {"some": "thing"}, "\"text\"", {"format": None, "version": 1}])
def test_a_file_that_is_not_a_project_is_said_in_words(tmp_path, content):
    """Issue 22, item 10: the message read "(format None)" or named a Python type ("list")."""
    with pytest.raises(DesignerError) as caught:
        load_project(write(tmp_path / "other.json", content))
    text = f"{caught.value.message} {caught.value.hint}"
    assert "not a NetSurgeon project" in text and "None" not in text and "list" not in text.replace("a list", "")
    assert "str" not in text and "dict" not in text


def test_missing_file(tmp_path):
    with pytest.raises(DesignerError, match="does not exist"):
        load_project(tmp_path / "nope.nsd.json")


def test_the_documented_example_loads():

    doc = (REPO / "docs" / "project-format.md").read_text(encoding="utf-8")
    example = doc.split("```json\n", 1)[1].split("```", 1)[0]
    project = project_mod.project_from_dict(json.loads(example))
    assert project.recipe.base.name == "efficientnet_lite0" and project.classes == ["circle", "square", "triangle"]


def test_the_documented_field_tables_are_the_schema(tmp_path):
    from designer.app.schema_doc import update

    copy = tmp_path / "project-format.md"
    copy.write_text((REPO / "docs" / "project-format.md").read_text(encoding="utf-8"), encoding="utf-8")
    assert not update(copy), "regenerate them: python -c \"from designer.app.schema_doc import update; " \
                             "update('docs/project-format.md')\""
    text = copy.read_text(encoding="utf-8")
    assert "| `num_classes` | whole number >= 1, <= 100,000 | required |" in text
    assert "| `lr` | finite number > 0, <= 10 or null | `null` |" in text
