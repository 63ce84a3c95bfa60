"""The CLI contract: main([FILE]) reads a JSON case, prints the result, exits 2 on bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cloud.processors.hos.cli import main

CASE = {
    "ruleset": "us_property_70_8",
    "exceptions": [],
    "home_terminal_tz": "UTC",
    "evaluate_at": "2026-01-06T20:00:00Z",
    "events": [
        {"start": "2026-01-05T00:00:00Z", "status": "off_duty"},
        {"start": "2026-01-06T06:00:00Z", "status": "on_duty"},
        {"start": "2026-01-06T07:00:00Z", "status": "driving"},
        {"start": "2026-01-06T15:00:00Z", "status": "off_duty"},
        {"start": "2026-01-06T15:30:00Z", "status": "driving"},
        {"start": "2026-01-06T19:00:00Z", "status": "off_duty", "end": "2026-01-06T20:00:00Z"},
    ],
}


def _run(tmp_path: Path, case: object, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case) if not isinstance(case, str) else case)
    code = main([str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_violations_and_remaining(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(tmp_path, CASE, capsys)
    assert code == 0, err
    doc = json.loads(out)
    # 8 h + 3.5 h = 11.5 h of driving: the last 30 minutes break the 11-hour limit
    assert doc["violations"] == [
        {"rule": "driving_11", "start": "2026-01-06T18:30:00Z", "end": "2026-01-06T19:00:00Z"}
    ]
    assert doc["remaining"] == {"drive_s": 0, "window_s": 0, "break_s": 28800, "cycle_s": 207000}
    assert doc["calculation_period"]["start"] == "2026-01-06T06:00:00Z"
    assert doc["time_until_first_limit_s"] == 0


def test_cli_omits_break_for_short_haul(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(tmp_path, {**CASE, "exceptions": ["short_haul_150"]}, capsys)
    assert code == 0
    assert set(json.loads(out)["remaining"]) == {"drive_s", "window_s", "cycle_s"}


def test_cli_last_event_without_end_runs_to_evaluate_at(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = [dict(e) for e in CASE["events"]]  # type: ignore[union-attr]
    del events[-1]["end"]
    code, out, _ = _run(tmp_path, {**CASE, "events": events}, capsys)
    assert code == 0
    assert json.loads(out)["remaining"]["break_s"] == 28800


def test_cli_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(CASE)))
    assert main(["-"]) == 0
    assert json.loads(capsys.readouterr().out)["violations"][0]["rule"] == "driving_11"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("{not json", "not valid JSON"),
        ([], "must be a JSON object"),
        ({**CASE, "ruleset": "eu_561"}, "unknown ruleset 'eu_561'"),
        ({**CASE, "exceptions": ["oilfield"]}, "unknown exception 'oilfield'"),
        ({k: v for k, v in CASE.items() if k != "events"}, "missing required key 'events'"),
        ({**CASE, "evaluate_at": "yesterday"}, "evaluate_at is not ISO 8601"),
        ({**CASE, "evaluate_at": "2026-01-06T20:00:00"}, "naive timestamp"),
        ({**CASE, "events": [{"start": "2026-01-06T06:00:00Z", "status": "lunch"}]}, "lunch"),
        ({**CASE, "events": [{"status": "driving"}]}, "needs 'start' and 'status'"),
        (
            {
                **CASE,
                "events": [
                    {"start": "2026-01-06T06:00:00Z", "status": "driving"},
                    {"start": "2026-01-06T06:00:00Z", "status": "on_duty"},
                ],
            },
            "overlapping events",
        ),
        (
            {
                **CASE,
                "events": [
                    {
                        "start": "2026-01-06T06:00:00Z",
                        "status": "driving",
                        "end": "2026-01-06T05:00:00Z",
                    }
                ],
            },
            "before it starts",
        ),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: object, message: str
) -> None:
    code, out, err = _run(tmp_path, case, capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err


def test_cli_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_cli_help_teaches_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "evaluate_at" in out and "us_property_70_8" in out and "example" in out


def test_help_example_is_what_the_cli_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cloud.processors.hos.cli import EXAMPLE

    text = EXAMPLE.split("input JSON:")[1].split("output JSON")[0]
    code, out, _ = _run(tmp_path, text, capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["violations"] == [
        {"rule": "break_30min", "start": "2026-01-06T15:00:00Z", "end": "2026-01-06T19:00:00Z"},
        {"rule": "driving_11", "start": "2026-01-06T18:00:00Z", "end": "2026-01-06T19:00:00Z"},
    ]
    assert doc["remaining"] == {"drive_s": 0, "window_s": 0, "break_s": 28800, "cycle_s": 205200}
    assert json.dumps(doc["remaining"]) in EXAMPLE.replace("\n", "")
