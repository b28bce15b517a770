"""Each file of the script imports what it reads (``codegen.modules``): worked out, not listed."""

from __future__ import annotations

import pytest

from designer.base.errors import DesignerError
from designer.codegen import modules
from designer.codegen.script import script_files
from designer.model.recipe import Recipe

CODE = '''
import os

LIMIT = 3


def train(items):
    train = [i for i in items if i < LIMIT]  # a local named like a function elsewhere
    return sorted(train), os.sep, helper()


class Box(Base):
    size = LIMIT


if __name__ == "__main__":
    arguments = parse()
'''


def test_global_reads_tell_a_local_from_a_global():
    reads = modules.global_reads(CODE)
    assert {"LIMIT", "os", "sorted", "helper", "Base", "parse", "__name__"} <= reads
    assert "items" not in reads and "i" not in reads


def test_defined_names_include_those_under_an_if_and_leave_imports_out_when_asked():
    assert {"os", "LIMIT", "train", "Box", "arguments"} <= modules.defined_names(CODE)
    assert "os" not in modules.defined_names(CODE, imported=False)
    assert modules.missing_names(CODE, {"helper"}) == {"Base", "parse"}


def test_imports_are_cut_to_what_is_read_in_isort_order():
    candidates = ["from pathlib import Path", "import torch.distributed as dist", "import json",
                  "from torch.utils.data import DataLoader, Dataset, Subset", "import os"]
    assert modules.import_lines(candidates, {"os", "Subset", "DataLoader", "dist"}) == [
        "import os", "import torch.distributed as dist", "from torch.utils.data import DataLoader, Subset"]


def test_sibling_imports_name_each_module_and_wrap_long_lines():
    siblings = {"model": "A = 1\nB = 2\nimport os\n", "data": "C = 3\nA = 4\n"}
    assert modules.sibling_imports({"A", "C", "os"}, siblings) == ["from data import C", "from model import A"]
    long = {"model": "".join(f"NAME_NUMBER_{k} = {k}\n" for k in range(12))}
    lines = modules.sibling_imports({f"NAME_NUMBER_{k}" for k in range(12)}, long)
    assert lines[0].startswith("from model import (\n    NAME_NUMBER_0,\n")


def test_the_script_is_three_files_each_importing_only_from_those_before_it():
    files = script_files(Recipe.for_model("resnet18", weights="none"))
    assert list(files) == ["train.py", "model.py", "data.py"]
    def imports_from(file: str) -> set[str]:  # at the start of a line: not the docstring's example
        return {m for m in ("model", "data", "train") if f"\nfrom {m} import" in files[file]}

    assert imports_from("model.py") == set()
    assert imports_from("data.py") == {"model"}
    assert imports_from("train.py") == {"model", "data"}
    for text in files.values():
        assert not modules.missing_names(text, set())


@pytest.mark.parametrize("name", ["model.py", "data.py", "train.txt"])
def test_the_script_cannot_take_a_companions_name(name):
    with pytest.raises(DesignerError, match="cannot be called"):
        script_files(Recipe.for_model("resnet18", weights="none"), name=name)
