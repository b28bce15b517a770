"""What an audit found, as plain data: each finding names its file and a severity score, so a review
screen can sort by it and the CLI can print it as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class LabelIssue:
    path: str
    given: str
    suggested: str
    score: float  # 0..1: how sure the audit is that the given label is wrong (1 - label quality)


@dataclass
class DuplicateGroup:
    paths: list[str]
    kind: str  # "exact" (same bytes) or "near" (the network sees the same image)
    similarity: float  # the lowest cosine inside the group (1.0 for exact copies)
    crosses_split: bool  # some copies train, others are validated on: validation accuracy is inflated


@dataclass
class Outlier:
    path: str
    given: str
    score: float  # how unlike its class, in robust standard deviations


@dataclass
class OddImage:
    path: str
    problems: list[str]  # "tiny", "blank", "very dark", "very bright", "very blurry"
    width: int = 0
    height: int = 0


@dataclass
class Imbalance:
    counts: dict[str, int]  # training images per class
    weights: dict[str, float]  # the class weights training would use (designer.data.split.class_weights)
    ratio: float  # largest / smallest class
    note: str = ""


@dataclass
class LeakEstimate:
    val_images: int  # validation images checked
    crossing: int  # of them, copies of a training image
    with_copies: float  # estimated validation accuracy as a run would report it
    without_copies: float  # on the validation images that have no copy in training
    inflation: float  # with - without: how much the copies flatter the figure

    def sentence(self) -> str:
        if not self.crossing:
            return "No validation image is a copy of a training image."
        return (f"{self.crossing} of {self.val_images} validation images are copies of training images: the "
                f"reported validation accuracy would be about {self.with_copies:.1%} where the images it has "
                f"not seen give {self.without_copies:.1%} ({self.inflation * 100:+.1f} points).")


@dataclass
class AuditReport:
    classes: list[str]
    root: str
    images: int
    label_issues: list[LabelIssue] = field(default_factory=list)
    duplicates: list[DuplicateGroup] = field(default_factory=list)
    outliers: list[Outlier] = field(default_factory=list)
    imbalance: Imbalance | None = None
    odd_images: list[OddImage] = field(default_factory=list)
    split_of: dict[str, str] = field(default_factory=dict)  # path -> train / val / test
    leak: LeakEstimate | None = None  # what the crossing duplicates do to the reported accuracy
    oof_accuracy: float | None = None  # out-of-fold accuracy of the logistic head on the given labels
    seconds: float = 0.0

    def summary_lines(self) -> list[str]:
        crossing = sum(g.crosses_split for g in self.duplicates)
        lines = [f"Checked {self.images:,} images in {self.seconds:.1f} s."]
        lines.append(f"{len(self.label_issues)} images may have the wrong label.")
        lines.append(f"{len(self.duplicates)} groups of duplicates ({crossing} cross the train/validation "
                     "split"
                     + (": validation accuracy is flattered by images the network trained on)." if crossing
                        else ")."))
        if self.leak is not None and self.leak.crossing:
            lines.append(self.leak.sentence())
        lines.append(f"{len(self.outliers)} images look unlike the rest of their class.")
        lines.append(f"{len(self.odd_images)} images are tiny, blank, very dark, very bright or very blurry.")
        if self.imbalance and self.imbalance.note:
            lines.append(self.imbalance.note)
        return lines

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("split_of")
        return data
