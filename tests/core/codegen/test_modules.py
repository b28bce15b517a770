"""Each file of the script imports what it reads (``codegen.modules``): worked out, not listed."""

from __future__ import annotations

import ast
import subprocess
import sys

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
    defined = modules.defined_names(CODE) | {"helper"}
    assert modules.missing_names(modules.global_reads(CODE), defined) == {"Base", "parse"}


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
    def imports_from(file: str) -> set[str]:  # in the code, not the docstring's example
        return {node.module for node in ast.walk(ast.parse(files[file]))
                if isinstance(node, ast.ImportFrom) and node.module in ("model", "data", "train")}

    assert imports_from("model.py") == set()
    assert imports_from("data.py") == {"model"}
    assert imports_from("train.py") == {"model", "data"}
    for text in files.values():
        assert not modules.missing_names(modules.global_reads(text), modules.defined_names(text))


@pytest.mark.parametrize("name", ["model.py", "data.py", "train.txt"])
def test_the_script_cannot_take_a_companions_name(name):
    with pytest.raises(DesignerError, match="cannot be called"):
        script_files(Recipe.for_model("resnet18", weights="none"), name=name)


def test_a_file_copied_without_the_modules_beside_it_says_what_to_do(tmp_path):
    """A lone train.py beside a data/ image folder: Python would import that folder as a namespace
    package and fail with "cannot import name ... (unknown location)"; the script says, in one line,
    to keep model.py and data.py beside it. A missing third-party package is still its own error."""
    files = script_files(Recipe.for_model("resnet18", weights="none"))
    (tmp_path / "data" / "cats").mkdir(parents=True)
    (tmp_path / "train.py").write_text(files["train.py"])
    proc = subprocess.run([sys.executable, "train.py", "--help"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "keep data.py and model.py beside train.py, as NetSurgeon exported them." in proc.stderr
    (tmp_path / "data.py").write_text(files["data.py"])
    proc = subprocess.run([sys.executable, "-c", "import data"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 1 and "keep model.py beside data.py" in proc.stderr
    (tmp_path / "model.py").write_text("import no_such_package_here\n")  # its own import fails: not hidden
    proc = subprocess.run([sys.executable, "-c", "import data"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert "ModuleNotFoundError: No module named 'no_such_package_here'" in proc.stderr


def test_the_script_is_written_last_so_it_never_stands_without_its_modules(tmp_path):
    from designer.codegen.script import write_script

    (tmp_path / "model.py").mkdir()  # model.py cannot be written here
    with pytest.raises(DesignerError, match="model.py"):
        write_script(Recipe.for_model("resnet18", weights="none"), tmp_path / "train.py")
    assert not (tmp_path / "train.py").exists()


def test_a_users_own_model_py_or_a_link_is_never_replaced(tmp_path):
    """The export folder may be a user's project: their model.py (or a link named so) stops the export
    before anything is written; an earlier export of ours is replaced."""
    import os

    from designer.codegen.script import write_script

    recipe = Recipe.for_model("resnet18", weights="none")
    write_script(recipe, tmp_path / "train.py")
    write_script(recipe, tmp_path / "train.py")  # again: our own files are replaced
    for file in ("model.py", "data.py", "train.py"):
        (tmp_path / file).unlink()
    (tmp_path / "model.py").write_text("import torch\n\nclass MyNet(torch.nn.Module):\n    pass\n")
    with pytest.raises(DesignerError, match="did not write"):
        write_script(recipe, tmp_path / "train.py")
    assert (tmp_path / "model.py").read_text().endswith("pass\n") and not (tmp_path / "data.py").exists()
    (tmp_path / "model.py").unlink()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.symlink(victim, tmp_path / "data.py")
    with pytest.raises(DesignerError, match="is a link"):
        write_script(recipe, tmp_path / "train.py")
    assert victim.read_text() == "precious" and not (tmp_path / "train.py").exists()
