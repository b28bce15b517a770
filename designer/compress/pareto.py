"""The accuracy-vs-latency trade-off: which measured models no other model beats on both."""

from __future__ import annotations


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points (latency, accuracy) that no other point dominates (as fast or faster and
    as accurate or more, better in one), fastest first."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front
