"""The compression goal: what the user may write, and when a measured step meets it."""

import pytest

from designer.base.errors import DesignerError
from designer.compress.goal import parse_goal
from designer.compress.measure import Figures


def _figures(latency=10.0, size=40e6, params=10_000_000):
    return Figures(0, "x", params, 1, int(size), latency, latency * 20, 0.9)


@pytest.mark.parametrize("text, kind, value, relative", [
    ("latency=0.5x", "latency", 0.5, True),
    ("size=4MB", "size", 4e6, False),
    ("params=0.3x", "params", 0.3, True),
    ("latency=20ms", "latency", 20.0, False),
    ("params=1.5M", "params", 1.5e6, False),
    (" size = 0.25x ", "size", 0.25, True),
])
def test_goals_parse(text, kind, value, relative):
    goal = parse_goal(text)
    assert (goal.kind, goal.value, goal.relative) == (kind, pytest.approx(value), relative)


@pytest.mark.parametrize("text, words", [
    ("speed=2x", "not a compression goal"),
    ("latency=1.5x", "below 1x"),
    ("latency=0x", "above zero"),
    ("size=4parsecs", "not a unit for size"),
    ("", "not a compression goal"),
])
def test_bad_goals_are_one_clear_line(text, words):
    with pytest.raises(DesignerError, match=words):
        parse_goal(text)


def test_goal_is_checked_on_measured_figures():
    original = _figures()
    assert parse_goal("latency=0.5x").met(_figures(latency=4.9), original)
    assert not parse_goal("latency=0.5x").met(_figures(latency=5.1), original)
    assert parse_goal("size=4MB").met(_figures(size=3.9e6), original)
    assert not parse_goal("params=0.3x").met(_figures(params=3_100_000), original)
    assert parse_goal("params=0.3x").to_dict()["text"] == "params at most 0.3x of the original"


def test_the_pareto_front_keeps_what_nothing_beats():
    from designer.compress.pareto import pareto_front

    points = [(10.0, 0.95), (5.0, 0.94), (6.0, 0.90), (2.0, 0.80), (2.0, 0.85), (12.0, 0.95)]
    assert pareto_front(points) == [4, 1, 0]
    assert pareto_front([]) == []
