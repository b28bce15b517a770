"""Nothing from outside becomes code in the generated script: settings, class names and paths
arrive only as literals, and a value that is not a checked plain type is refused."""

from __future__ import annotations

import ast
import io
import tokenize
from types import SimpleNamespace

import pytest

from designer.base.errors import DesignerError
from designer.codegen.literals import comment_text, docstring_text, literal, number, only_literals
from designer.codegen.script import _main_defaults, script_files
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe
from designer.train.options import TrainOptions

TOUCH = "__import__('os').system('touch /tmp/netsurgeon-pwned')"
NAMES = [TOUCH, f'"""; {TOUCH} #', f"x\n{TOUCH}\n", "\\N{bad}\\", "'''\"\"\"", "ok"]


def _script(weights: str = "none") -> str:
    """The script's three files as one text (each is a module; together they still parse)."""
    recipe = Recipe.for_model("resnet18", weights=weights).with_ops(SetInput(32, 32, 1), ReplaceClassifier(6))
    options = TrainOptions(optimizer="adamw", lr=0.003, epochs=7, seed=4, batch_size=16)
    return "\n".join(script_files(recipe, training=options, classes=NAMES).values())


def _settings(tree: ast.Module) -> dict[str, ast.AST]:
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                names = target.elts if isinstance(target, ast.Tuple) else [target]
                for k, name in enumerate(names):
                    if isinstance(name, ast.Name) and name.id.isupper():
                        value = node.value.elts[k] if isinstance(target, ast.Tuple) else node.value
                        out[name.id] = value
    return out


def test_every_setting_in_the_script_is_a_literal():
    tree = ast.parse(_script(weights="/tmp/weights'\"{x}.pt"))
    settings = _settings(tree)
    for name, value in settings.items():
        if name == "AUGMENT":  # torchvision calls with literal arguments
            assert all(isinstance(c, ast.Call) and only_literals(c) for c in value.elts)
        else:
            ast.literal_eval(value)  # raises on anything that is not a literal
    assert ast.literal_eval(settings["CLASSES"]) == NAMES
    assert ast.literal_eval(settings["BASE_WEIGHTS"]) == "/tmp/weights'\"{x}.pt"
    adds = [node for node in ast.walk(tree) if isinstance(node, ast.Call)  # parser.add_argument, or add
            and (getattr(node.func, "attr", "") == "add_argument" or getattr(node.func, "id", "") == "add")]
    defaults = [kw.value for node in adds for kw in node.keywords if kw.arg == "default"]
    assert len(defaults) >= 11 and all(isinstance(d, (ast.Constant, ast.Name)) for d in defaults)
    # a default that is a name is one of the constants above, each checked to be a literal
    assert all(d.id in settings for d in defaults if isinstance(d, ast.Name))
    assert (ast.literal_eval(settings["SEED"]), ast.literal_eval(settings["OPTIMIZER"])) == (4, "adamw")
    # the settings a mode may plan are data, read when the flag is not given
    planned = {"epochs": 7, "batch_size": 16, "lr": 0.003}
    assert ast.literal_eval(settings["SETTINGS"]).items() >= planned.items()


def test_the_docstring_and_comments_hold_the_text_and_nothing_else():
    text = _script()
    tree = ast.parse(text)
    assert ast.get_docstring(tree).startswith("Fine-tune resnet18")
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    names = {tok.string for tok in tokens if tok.type == tokenize.NAME}
    assert "__import__" not in names  # the hostile text is inside string literals, never code
    assert comment_text("a\nb\u2028c") == "a b c" and "\n" not in comment_text("x\r\ny")
    escaped = docstring_text('x"""y\\z')
    assert ast.literal_eval(f'"""{escaped}"""') == 'x"""y\\z'


def test_values_that_are_not_checked_plain_types_are_refused():
    with pytest.raises(DesignerError, match="not a finite number"):
        literal(float("nan"))
    with pytest.raises(DesignerError, match="cannot be written"):
        literal(object())
    with pytest.raises(DesignerError, match="not a finite number"):
        number(float("inf"))
    hostile = SimpleNamespace(**{**TrainOptions().to_dict(), "optimizer": TOUCH, "augment": None})
    hostile.resolved_lr = 0.01
    with pytest.raises(DesignerError, match="cannot be written into the script"):
        _main_defaults(hostile, 0.2, 0)
    hostile = SimpleNamespace(**{**TrainOptions().to_dict(), "seed": TOUCH})
    hostile.resolved_lr = 0.01
    with pytest.raises((DesignerError, ValueError)):
        _main_defaults(hostile, 0.2, 0)


def test_a_layer_whose_settings_are_not_literals_is_not_evaluated():
    from designer.codegen.layers import render_module

    class Sneaky(__import__("torch").nn.ReLU):
        def extra_repr(self):
            return f"inplace={TOUCH}"

    Sneaky.__name__ = "ReLU"
    with pytest.raises(DesignerError):
        render_module(Sneaky())
