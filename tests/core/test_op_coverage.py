"""Every kind of edit, and every source of networks, is known everywhere it must be (issue 24): an op
type the project file reads, a handler that builds it (structural) or shapes the optimizer (policy), and
a renderer that writes it into the exported script; a source record and the script's builder for it.
A new op or source missing from one table fails here, not in a user's export."""

from typing import get_args, get_type_hints

from designer.codegen.model import SCRIPT_BUILDERS
from designer.codegen.ops import OP_RENDERERS
from designer.model.build import OP_HANDLERS
from designer.model.ops import OP_TYPES
from designer.model.policy import POLICY_HANDLERS
from designer.zoo.base import BaseModel
from designer.zoo.sources import SOURCES


def test_structural_and_policy_ops_are_each_handled_and_rendered():
    structural = {kind for kind, cls in OP_TYPES.items() if cls.structural}
    policy = {kind for kind, cls in OP_TYPES.items() if not cls.structural}
    assert set(OP_HANDLERS) == structural
    assert set(OP_RENDERERS) == structural  # policy ops are written as the script's FROZEN / LR tables
    assert set(POLICY_HANDLERS) == policy
    assert structural | policy == set(OP_TYPES) and not structural & policy


def test_every_source_has_one_record_and_a_script_builder():
    assert set(SOURCES) == set(SCRIPT_BUILDERS)
    assert set(SOURCES) == set(get_args(get_type_hints(BaseModel)["source"]))  # what a project may name
