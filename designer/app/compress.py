"""The Compress step, shared by the window and ``python -m designer compress``.

``compress_job`` loads a project and one of its trained runs, runs the compression loop
(``designer.compress.loop``) on the run's own split, and writes the output folder:

- ``<name>.compressed.nsd.json``: the project, its recipe ending in the recorded pruning (plain data);
- ``best.pt``: the chosen step's weights (a state dict, loaded with ``weights_only=True``);
- ``model.onnx`` (float) and ``model.int8.onnx`` when int8 is the fastest within the accuracy floor;
- ``report.json``: every step's measured figures; ``model_card.json``: goal, figures, int8 parity;
- ``split.json`` and ``summary.json``, so the folder is also a run: ``evaluate --weights OUT`` scores
  the compressed network on the very images the original was checked on.
"""

from __future__ import annotations

import os
import platform
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from designer.app.project import SUFFIX, load_project, save_project
from designer.base.errors import DesignerError
from designer.base.fileio import read_json, write_json
from designer.compress.loop import CompressResult, CompressSettings, compress
from designer.data.folders import scan_folder, scan_folders
from designer.export.card import model_card
from designer.model.ops import PruneChannels
from designer.model.trained import design_with_weights, weights_file
from designer.train.options import TrainOptions
from designer.train.runs import load_run

REPORT_VERSION = 1


@dataclass(frozen=True)
class CompressRequest:
    project: str  # the project file
    weights: str  # a run folder (or its best.pt)
    output: str  # the output folder (new, or empty)
    data: str | None = None  # the images; the run's own split is used when it is on this folder
    val_data: str | None = None
    val_split: float = 0.2
    seed: int = 0


def compress_job(control, request: CompressRequest, settings: CompressSettings):
    """The whole Compress step (see the module docstring); yields Progress and ``StepMeasured`` items
    and returns the output folder's report (a dict)."""
    out = _output_folder(request.output)
    project = load_project(request.project)
    run_path = weights_file(request.weights).parent
    split = _split(request, run_path)
    if project.classes and list(project.classes) != list(split.classes):
        raise DesignerError(f"The project's classes ({', '.join(project.classes[:8])}) differ from the data "
                            f"folder's.", hint="Use the folder the run was trained on.")
    design = design_with_weights(project.recipe, request.weights)
    options = _run_options(run_path, project.training)
    result = yield from compress(control, design, split, options, settings, out / "steps")
    return write_outputs(result, project, request, settings, split, out)


def _output_folder(path: str) -> Path:
    out = Path(path).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DesignerError(f"The output folder '{out}' is not empty.",
                            hint="Choose a new folder: compressing never writes over earlier results.")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _split(request: CompressRequest, run_path: Path):
    """The run's own split when its images are on ``request.data`` (or no folder is given), else a scan."""
    try:
        split = load_run(run_path).split()
    except DesignerError:
        split = None
    same_root = split is not None and (
        not request.data or Path(split.root).resolve() == Path(request.data).expanduser().resolve())
    if same_root:
        return split
    if not request.data:
        raise DesignerError("The run has no saved split; say where the images are: --data FOLDER.")
    if request.val_data:
        return scan_folders(request.data, request.val_data, request.seed)
    return scan_folder(request.data, request.val_split, request.seed)


def _run_options(run_path: Path, fallback: dict) -> TrainOptions:
    """The options the run was asked (its options.json), else the project's."""
    try:
        asked = load_run(run_path).options.get("options")
    except DesignerError:
        asked = None
    return TrainOptions.from_dict(asked if isinstance(asked, dict) and asked else fallback or None)


def step_project(out, step: int) -> Path:
    """The project of one measured step of a finished Compress output folder ``out``: the chosen
    step's is the folder's own project; any other step's is written on first use into
    ``out/steps/step-<k>/`` (that step's pruning as data, its weights as a finished run), so any
    point of the trade-off plot can be opened. Int8 points are files of their float step."""
    out = Path(out)
    report = read_json(out / "report.json")
    if not report.get("project") or not report.get("source_project"):
        raise DesignerError(f"'{out}' holds no finished compression (no report.json).",
                            hint="Compress again, and open a step when it has finished.")
    if step == report.get("chosen_step") and report.get("project"):
        return Path(report["project"])
    folder = out / "steps" / f"step-{int(step)}"
    pruning = folder / "pruning.json"
    if not pruning.is_file() or not (folder / "weights.pt").is_file():
        raise DesignerError(f"Step {step} was not kept in '{out}'.",
                            hint="Only the measured steps of a finished compression can be opened.")
    name = Path(report["project"]).name.removesuffix(f".compressed{SUFFIX}")
    path = folder / f"{name}.step-{int(step)}{SUFFIX}"
    if path.is_file():
        return path
    source = load_project(report["source_project"])
    data = read_json(pruning)
    history = tuple((p, bool(o), tuple(i)) for p, o, i in data.get("history", []))
    recipe = source.recipe
    if history:
        op = PruneChannels(history=history, note=str(data.get("label", ""))[:200])
        recipe = replace(recipe, ops=recipe.ops + (op,))
    shutil.copyfile(folder / "weights.pt", folder / "best.pt")
    _copy_history(out / "steps", int(step), Path(read_json(out / "summary.json").get("compressed_from", "")),
                  folder)
    shutil.copyfile(out / "split.json", folder / "split.json")
    figures = report["steps"][int(step)] if int(step) < len(report["steps"]) else {}
    summary = read_json(out / "summary.json")
    write_json(folder / "summary.json", {**summary, "best_val_acc": figures.get("val_acc")})
    save_project(replace(source, recipe=recipe, classes=list(summary.get("classes", [])),
                         runs=[str(folder.resolve())]), path)
    return path


def _copy_history(steps: Path, step: int, run_path: Path, into: Path) -> None:
    """The epochs behind a step's weights, so its folder reads as a finished run with weights: the
    step's recovery fine-tune, or for step 0 the original run's own training."""
    source = steps / f"step-{step}" / "tune" / "history.json" if step else run_path / "history.json"
    if source.is_file():
        shutil.copyfile(source, into / "history.json")


def write_outputs(result: CompressResult, project, request: CompressRequest, settings: CompressSettings,
                  split, out: Path) -> dict:
    chosen = result.steps[result.chosen]
    shutil.copyfile(result.weights, out / "best.pt")
    shutil.copyfile(chosen.onnx, out / "model.onnx")
    kept = result.kept
    kept_int8 = kept is not None and kept.label.startswith("int8")
    if kept is not None and kept_int8:
        shutil.copyfile(kept.onnx, out / "model.int8.onnx")
    name = Path(request.project).name.removesuffix(SUFFIX).removesuffix(".json")
    project_path = out / f"{name}.compressed{SUFFIX}"
    # the folder is a finished run of the new project: Export and Results offer its weights
    save_project(replace(project, recipe=result.design.recipe, classes=list(split.classes),
                         runs=[str(out.resolve())]), project_path)
    report = _report(result, request, settings, kept_int8)
    report["project"] = str(project_path)
    report["source_project"] = str(Path(request.project).resolve())
    write_json(out / "report.json", report)
    write_json(out / "split.json", split.to_dict())
    _copy_history(out / "steps", result.chosen, weights_file(request.weights).parent, out)
    write_json(out / "summary.json", {"status": "finished", "classes": list(split.classes),
                                      "best_val_acc": chosen.val_acc, "num_train": len(split.train),
                                      "compressed_from": str(weights_file(request.weights).parent.resolve())})
    # the card describes the network that ships: rebuilt from the saved project and best.pt
    shipped = design_with_weights(load_project(project_path).recipe, out / "best.pt")
    card = model_card(shipped, classes=split.classes, metrics={"best_val_acc": chosen.val_acc})
    card["compression"] = {k: report[k] for k in ("goal", "max_drop", "original", "kept", "int8_parity",
                                                  "stop_reason")}
    write_json(out / "model_card.json", card)
    return report


def _report(result: CompressResult, request, settings: CompressSettings, kept_int8: bool) -> dict:
    chosen = result.steps[result.chosen]
    # every int8 variant's agreement with the float model, whichever was kept
    parity = {f.label: p.to_dict() for f, p in result.int8 if p is not None}
    return {
        "report_version": REPORT_VERSION,
        "goal": settings.goal.to_dict(), "max_drop": settings.max_drop, "importance": settings.importance,
        "kept_layers_extra": list(settings.keep), "finetune_epochs": settings.finetune_epochs,
        "weights": str(request.weights), "stop_reason": result.stop_reason, "accuracy_floor": result.floor,
        "original": result.original.to_dict(), "steps": [f.to_dict() for f in result.steps],
        "chosen_step": result.chosen, "chosen": chosen.to_dict(),
        "int8": [{**f.to_dict(), "parity": p.to_dict() if p else None} for f, p in result.int8],
        "int8_failed": list(result.int8_failed),
        "kept": {**(result.kept or chosen).to_dict(), "format": "int8" if kept_int8 else "float",
                 "file": "model.int8.onnx" if kept_int8 else "model.onnx"},
        "int8_parity": parity,
        "measured_on": {"machine": platform.machine(), "cpus": os.cpu_count(),
                        "how": "onnxruntime CPU, warm-up then the median of at least "
                               f"{settings.runs} runs, all models in one process"},
    }
