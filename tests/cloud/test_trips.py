"""The pure parts of the trips processor: pairing start/end events, track length."""

from __future__ import annotations

import math

import pytest

from cloud.processors.trips import EARTH_RADIUS_KM, Interval, derive_intervals, path_length_km


def test_pairs_start_and_end() -> None:
    events = [(10, "trip_start"), (20, "trip_end"), (30, "trip_start"), (45, "trip_end")]
    assert derive_intervals(events, "trip_start", "trip_end") == [
        Interval(10, 20, "trip_end"),
        Interval(30, 45, "trip_end"),
    ]


def test_start_while_open_closes_the_previous_and_last_stays_open() -> None:
    events = [(10, "trip_start"), (25, "trip_start"), (40, "trip_start")]
    assert derive_intervals(events, "trip_start", "trip_end") == [
        Interval(10, 25, "next_start"),
        Interval(25, 40, "next_start"),
        Interval(40, None, None),
    ]


def test_stray_end_and_repeated_start_are_ignored() -> None:
    events = [
        (5, "trip_end"),
        (10, "trip_start"),
        (10, "trip_start"),
        (20, "trip_end"),
        (21, "trip_end"),
    ]
    assert derive_intervals(events, "trip_start", "trip_end") == [Interval(10, 20, "trip_end")]


def test_other_event_names_do_not_matter() -> None:
    events = [(1, "idle_start"), (2, "ignition_on"), (3, "idle_end")]
    assert derive_intervals(events, "idle_start", "idle_end") == [Interval(1, 3, "idle_end")]
    assert derive_intervals(events, "trip_start", "trip_end") == []


def test_path_length_of_one_degree_of_latitude() -> None:
    assert path_length_km([(0.0, 0.0), (1.0, 0.0)]) == pytest.approx(
        EARTH_RADIUS_KM * math.pi / 180
    )
    assert path_length_km([(45.0, 7.0)]) == 0.0
    # Out and back is twice the way out.
    there = path_length_km([(45.0, 7.0), (45.0, 7.1)])
    assert path_length_km([(45.0, 7.0), (45.0, 7.1), (45.0, 7.0)]) == pytest.approx(2 * there)
