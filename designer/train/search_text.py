"""The search mode in plain words: the plan of the start event and the outcome of the last one."""

from __future__ import annotations

from designer.train.events import Best

REDUCTION = 3  # Hyperband's successive halving keeps the best third at each rung (designer.train.search)


def budget_text(seconds: float) -> str:
    """90 -> '1 min 30 s', 600 -> '10 min', 5400 -> '1 h 30 min'."""
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h} h" if h else "", f"{m} min" if m else "", f"{s} s" if s and not h else ""]
    return " ".join(p for p in parts if p) or "0 s"


AUGMENT_WORDS = {"yours": "yours", "off": "off", "light": "light (small turns, shifts and zooms)",
                 "light+flip": "light plus mirroring"}


def describe(options, base, space, max_trials: int, stage1_reason: str = "",
             own_pruner: bool = False) -> str:
    """What the search will do, in plain words (the start event, history.json and summary.json)."""
    opts = base.options
    stage1 = ("First the classifier is fitted on what the pretrained network sees in each image (stage 1 of "
              "the recommended mode, computed once): the baseline, trial 0. " if not stage1_reason else
              f"Stage 1 (the fitted classifier, the baseline) is skipped: {stage1_reason} ")
    freeze = (f"frozen layers (none, or the early ones up to {space.freeze_path})" if len(space.freezes) > 1
              else "no frozen layers beyond the design's")
    halving = ("Weak trials stop early (the pruner you gave). " if own_pruner else
               f"Hyperband (successive halving at several rates) stops weak trials early: at "
               f"{max(1, opts.epochs // 4)} epochs, then every {REDUCTION}x as many, a trial below the best "
               "third of those in its group that got there ends. ")
    return (f"Search: up to {max_trials} fine-tunes (trials) within {budget_text(options.budget_s)}, one "
            f"after another in this process, and the best one is kept. {stage1}Each trial fine-tunes from "
            "the pretrained weights and a fresh classifier like the recommended mode's stage 2 (planned: "
            f"{opts.epochs} epochs of batches of {opts.batch_size} images with {opts.optimizer.upper()} at "
            f"{opts.lr:g}), with its own learning rate ({space.lr[0]:g} to {space.lr[1]:g}), length (half, "
            "the same or twice the planned epochs), augmentation "
            f"({', '.join(AUGMENT_WORDS[a] for a in space.augments)}) and {freeze}. The first trial is the "
            f"plan as it is; Optuna's TPE sampler picks the next ones from what scored well. {halving}No "
            "trial starts once the budget is spent, and the last one is cut to it. The trial with the best "
            "validation accuracy becomes this run (best.pt); every trial's settings and curve are in "
            "trials.json.")


def params_text(params: dict) -> str:
    if "lr" not in params:
        return "the classifier fitted on cached features"
    length = {0.5: "half", 1.0: "the", 2.0: "twice the"}.get(params["length"], f"{params['length']:g}x the")
    freeze = "early layers frozen" if params["freeze"] == "early" else "no layers frozen"
    return (f"learning rate {params['lr']:.3g}, {length} planned length, augmentation "
            f"{AUGMENT_WORDS.get(params['augment'], params['augment'])}, {freeze}")


def outcome(records: list[dict], best: Best, elapsed_s: float) -> str:
    """Which trial won and what the others did, in plain words."""
    trials = [r for r in records if r["number"] > 0]
    if not records:
        return ""
    kinds = ("complete", "pruned", "cut", "failed", "stopped")
    states = {s: sum(r["state"] == s for r in trials) for s in kinds}
    counts = ", ".join(f"{n} {s}" for s, n in states.items() if n).replace("pruned", "stopped early (pruned)")
    ran = f"{len(trials)} trial{'s' if len(trials) != 1 else ''} ran in {budget_text(elapsed_s)}" + \
          (f" ({counts})." if counts else ".")
    winner = next((r for r in records if r["number"] == best["epoch"]), None)
    if winner is None or best["val_acc"] is None:
        return f"{ran} None reached a validation, so no weights are kept."
    stage1 = next((r for r in records if r["number"] == 0), None)
    versus = (f", against {stage1['best_val_acc'] * 100:.1f} % for the classifier fitted in stage 1"
              if stage1 and winner is not stage1 and stage1["best_val_acc"] is not None else "")
    name = "Stage 1 (trial 0)" if winner["number"] == 0 else f"Trial {winner['number']}"
    frozen = winner.get("frozen_up_to")
    again = (f" It froze the layers up to {frozen}, which your design does not: freeze them there to train "
             "the same way again." if frozen else "")
    return (f"{ran} {name} won with {best['val_acc'] * 100:.1f} % on the validation images{versus} "
            f"({params_text(winner['params'])}). Its weights are kept; every trial is in trials.json.{again}")
