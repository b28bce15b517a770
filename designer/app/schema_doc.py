"""The field tables of ``docs/project-format.md``, written from the checked classes themselves.

Every table row is read off the pydantic schema of the class that checks the value, so
the documentation says exactly what a project file may hold: type, allowed range or
choices, and default. ``python -m designer.app.schema_doc`` prints the tables;
``update(path)`` rewrites the part of the document between the markers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import TypeAdapter

from designer.app.project import DataSettings, ExplainSettings
from designer.base.fileio import atomic_write_text
from designer.data.overrides import Override
from designer.data.transforms import Augment
from designer.model.ops import OP_TYPES
from designer.train.options import TrainOptions
from designer.zoo.base import BaseModel

START = "<!-- generated from the schema: python -m designer.app.schema_doc -->"
END = "<!-- end of generated tables -->"
# Words for the values a JSON schema cannot say (they are checked by validators).
TEXT_RULES = {
    "path": "a dotted layer name (letters, digits, `_` and dots), at most 512 characters; "
            "`\"\"` is the whole network",
    "name": "a gallery name (`resnet18`), a timm pretrained name checked against timm's registry "
            "(`resnet18.a1_in1k`) or a builder `package.module:function`",
    "weights": "`\"default\"`, `\"none\"` or a file path, no control characters, "
               "at most 4096 characters",
    "params": "settings: `{\"name\": value}`; a value is a whole number, a finite number, true/false, "
              "a short word or up to 8 whole numbers; at most 32 settings",
    "layer": "`{\"type\": \"Conv2d\", \"args\": {settings}}`: a torch.nn layer type and its settings "
             "(as `params`)",
}
EXPLAIN_LAYER = ("a dotted layer name (as `path`) whose output is a map over the image; `\"\"` is the last "
                 "layer before the head whose map is at least 7x7 (or the largest there is)")


def _allowed(spec: dict) -> str:
    if "anyOf" in spec:
        return " or ".join(filter(None, (_allowed(s) for s in spec["anyOf"])))
    if "enum" in spec:
        return ", ".join(f"`{v!r}`".replace("'", '"') for v in spec["enum"])
    if "const" in spec:
        return f"`{spec['const']!r}`".replace("'", '"')
    kind = {"integer": "whole number", "number": "finite number", "boolean": "true/false", "string": "text",
            "null": "null", "array": "list"}.get(spec.get("type", ""), spec.get("type", "object"))
    bounds = []
    limits = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"))
    for key, word in limits:
        if key in spec:
            value = spec[key]
            bounds.append(f"{word} {value:g}" if isinstance(value, float) else f"{word} {value:,}")
    if "maxLength" in spec:
        bounds.append(f"at most {spec['maxLength']:,} characters")
    return f"{kind} {', '.join(bounds)}".strip()


def table(cls, skip: tuple[str, ...] = (), rules: dict | None = None) -> str:
    """``rules``: words for this class's fields, over ``TEXT_RULES``."""
    rules = {**TEXT_RULES, **(rules or {})}
    schema = TypeAdapter(cls).json_schema()
    rows = ["| Field | Allowed | Default |", "| --- | --- | --- |"]
    for name, spec in schema["properties"].items():
        if name in skip:
            continue
        allowed = rules.get(name) if name in rules else _allowed(spec)
        default = "required" if name in schema.get("required", []) else f"`{json.dumps(spec.get('default'))}`"
        rows.append(f"| `{name}` | {allowed} | {default} |")
    return "\n".join(rows)


OVERRIDE_PATH = ("text of 1 to 4,096 characters: the image's path relative to the data folder, with `/` "
                 "(a full path for a file outside it)")


def tables() -> str:
    parts = ["### `recipe.base`", "", table(BaseModel), ""]
    for kind, cls in OP_TYPES.items():
        where = "structural" if cls.structural else "policy"
        parts += [f"#### `{kind}` ({cls.title}, {where})", "", table(cls), ""]
    parts += ["### `data`", "", table(DataSettings), "",
              "### `data.overrides` (each entry)", "", table(Override, rules={"path": OVERRIDE_PATH}), "",
              "### `training`", "", table(TrainOptions, skip=("augment",)), "",
              "### `training.augment`", "", table(Augment), "",
              "### `explain`", "", table(ExplainSettings, rules={"layer": EXPLAIN_LAYER}), ""]
    return "\n".join(parts).rstrip() + "\n"


def update(path: str | Path) -> bool:
    """Rewrite the generated part of ``path``; True if it changed."""
    text = Path(path).read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    new = f"{head}{START}\n\n{tables()}\n{END}{tail}"
    if new != text:
        atomic_write_text(path, new)
    return new != text


if __name__ == "__main__":
    sys.stdout.write(tables())
