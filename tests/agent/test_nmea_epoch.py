"""Epoch assembly and receiver time: merging sentences of one fix, dates, week rollover."""

from __future__ import annotations

import datetime as dt

import pytest

from agent.decode.nmea import NmeaDecoder, decode_bytes, parse_sentence
from agent.decode.nmea_epoch import ClockParams, iso_utc
from agent.decode.nmea_framer import nmea_checksum


def s(body: str) -> bytes:
    return f"${body}*{nmea_checksum(body.encode()):02X}\r\n".encode()


def rmc(tod: str, date: str, status: str = "A", lat: str = "4807.038") -> bytes:
    return s(f"GPRMC,{tod},{status},{lat},N,01131.000,E,010.0,084.4,{date},003.1,W,A")


def gga(tod: str, quality: int = 1, sats: str = "08") -> bytes:
    return s(f"GNGGA,{tod},4807.038,N,01131.000,E,{quality},{sats},0.9,545.4,M,46.9,M,,")


GSA = s("GNGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1")
VTG = s("GPVTG,054.7,T,034.4,M,005.5,N,010.2,K,A")
NO_FLOOR = ClockParams(date_floor=None)


def iso(p: object) -> str:
    return iso_utc(p.time_ms)  # type: ignore[attr-defined]


def test_sentences_of_one_second_merge_into_one_fix() -> None:
    data = rmc("123519.00", "230394") + VTG + gga("123519.00") + GSA + rmc("123520.00", "230394")
    fixes, decoder = decode_bytes(data, clock=NO_FLOOR)
    assert len(fixes) == 2
    first = fixes[0]
    assert iso(first) == "1994-03-23T12:35:19.000Z"
    d = first.data
    assert (d["lat"], d["lon"]) == (pytest.approx(48.1173), pytest.approx(11.5166667))
    assert d["alt_m"] == 545.4
    assert d["speed_mps"] == pytest.approx(5.14, abs=0.01)  # 10 kn from RMC wins over VTG
    assert d["course_deg"] == 84.4
    assert (d["sats"], d["hdop"], d["pdop"], d["mode"], d["quality"]) == (8, 0.9, 2.5, 3, 1)
    assert d["valid"] is True and d["flags"] == []
    assert decoder.stats()["used"] == 5


def test_receiver_sending_only_rmc_still_yields_fixes() -> None:
    fixes, _ = decode_bytes(rmc("000001", "010126") + rmc("000002", "010126"), clock=NO_FLOOR)
    assert [iso(f) for f in fixes] == ["2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z"]
    assert all(f.data["mode"] == 2 and f.data["alt_m"] is None for f in fixes)


def test_gga_only_fixes_wait_for_a_date_or_are_counted_as_dropped() -> None:
    data = gga("235958") + gga("235959")
    fixes, decoder = decode_bytes(data, clock=NO_FLOOR)
    assert fixes == []
    assert decoder.stats()["rejects"] == {"no_date": 2}
    # A date arriving later (ZDA) dates the waiting fixes backwards, across midnight.
    data += s("GPZDA,000000.00,02,01,2026,00,00") + gga("000000.00")
    fixes, _ = decode_bytes(data, clock=NO_FLOOR)
    assert [iso(f) for f in fixes] == [
        "2026-01-01T23:59:58.000Z",
        "2026-01-01T23:59:59.000Z",
        "2026-01-02T00:00:00.000Z",
    ]


def test_undated_fix_after_midnight_takes_the_next_day() -> None:
    fixes, _ = decode_bytes(rmc("235959", "311225") + gga("000000"), clock=NO_FLOOR)
    assert [iso(f) for f in fixes] == ["2025-12-31T23:59:59.000Z", "2026-01-01T00:00:00.000Z"]


def test_time_hint_dates_a_gga_only_receiver() -> None:
    hint_ms = int(dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC).timestamp() * 1000)
    decoder = NmeaDecoder(time_hint=lambda: hint_ms)
    fixes = decoder.feed(gga("101010") + gga("101011")) + decoder.finish()
    assert [iso(f) for f in fixes] == ["2026-11-21T10:10:10.000Z", "2026-11-21T10:10:11.000Z"]


def test_dates_before_the_floor_are_corrected_by_1024_weeks() -> None:
    # 1999-08-22 is what a week-rollover victim reports on 2019-04-07.
    fixes, decoder = decode_bytes(
        rmc("000425", "220899"), clock=ClockParams(date_floor=dt.date(2019, 1, 1))
    )
    assert [iso(f) for f in fixes] == ["2019-04-07T00:04:25.000Z"]
    assert fixes[0].data["time_corrected_weeks"] == 1024
    assert fixes[0].data["flags"] == []  # the corrected time is good
    assert decoder.stats()["time"] == {"corrected": 1}


def test_a_bad_date_does_not_corrupt_event_time_when_the_monotonic_clock_helps() -> None:
    decoder = NmeaDecoder(clock=ClockParams(date_floor=dt.date(2026, 1, 1)))
    out = decoder.feed(rmc("120000", "211126"), mono=100.0)
    out += decoder.feed(rmc("120001", "211126"), mono=101.0)
    # Reboot: the receiver reports a default date although only 1 s passed.
    out += decoder.feed(rmc("235948", "161206", status="V"), mono=102.0)
    out += decoder.feed(rmc("120003", "211126"), mono=103.0)
    out += decoder.finish()
    assert [iso(f) for f in out] == [
        "2026-11-21T12:00:00.000Z",
        "2026-11-21T12:00:01.000Z",
        "2026-11-21T12:00:02.000Z",  # expected from the monotonic clock, flagged
        "2026-11-21T12:00:03.000Z",
    ]
    assert out[2].data["flags"] == ["bad_time"]
    assert decoder.gnss_time == {"utc_ms": out[3].time_ms, "mono": 103.0}


def test_without_monotonic_reference_a_bad_date_drops_the_fix_and_counts_it() -> None:
    data = rmc("120000", "211126") + rmc("235948", "161206", status="V") + rmc("120002", "211126")
    fixes, decoder = decode_bytes(data, clock=NO_FLOOR)
    assert [iso(f) for f in fixes] == ["2026-11-21T12:00:00.000Z", "2026-11-21T12:00:02.000Z"]
    assert decoder.stats()["rejects"] == {"bad_date": 1}


def test_consistent_fixes_replace_a_wrong_trusted_time() -> None:
    # The first fix's date was wrong (1 year ahead); the next ones agree with each other.
    data = rmc("120000", "211127")
    for second in range(1, 8):
        data += rmc(f"1200{second:02d}", "211126")
    fixes, decoder = decode_bytes(data, clock=ClockParams(date_floor=None, reanchor_after=3))
    assert iso(fixes[0]) == "2027-11-21T12:00:00.000Z"
    assert [iso(f) for f in fixes[1:]] == [f"2026-11-21T12:00:0{n}.000Z" for n in range(3, 8)]
    assert decoder.stats()["rejects"] == {"bad_date": 2}
    assert decoder.stats()["time"]["reanchored"] == 1


def test_idle_completes_the_fix_and_a_late_sentence_is_counted() -> None:
    decoder = NmeaDecoder(clock=NO_FLOOR)
    assert decoder.feed(rmc("120000", "211126")) == []
    assert len(decoder.idle()) == 1
    assert decoder.feed(gga("120000")) == []
    assert decoder.finish() == []
    assert decoder.stats()["rejects"] == {"late": 1}


def test_repeated_time_with_repeated_sentence_types_gives_separate_fixes() -> None:
    fixes, _ = decode_bytes(rmc("120000", "211126") * 2, clock=NO_FLOOR)
    assert len(fixes) == 2


def test_untimed_cycles_are_counted_as_no_time() -> None:
    cycle = s("GPGGA,,,,,,0,,,,M,,M,,") + s("GPRMC,,V,,,,,,,,,,N")
    fixes, decoder = decode_bytes(cycle * 3, clock=NO_FLOOR)
    assert fixes == []
    assert decoder.stats()["rejects"] == {"no_time": 3}


def test_unused_and_broken_sentences_are_counted_by_reason() -> None:
    data = (
        s("PQGSV,1,1,00")  # proprietary
        + s("GPGSV,1,1,00")  # valid, not used for fixes
        + s("XXRMC,120000,A,4807.038,N,01131.000,E,0,0,211126,,")  # unknown talker
        + s("GP,00,0.0")  # damaged address
        + s("GPRMC,120000,A,48x7.038,N,01131.000,E,0,0,211126,,")  # bad field
        + s("GPRMC,120000,A,4807.038,N,01131.000,E,0,0,321326,,")  # impossible date
    )
    fixes, decoder = decode_bytes(data, clock=NO_FLOOR)
    stats = decoder.stats()
    assert stats["ignored"] == {"GSV": 1, "proprietary": 1}
    assert stats["rejects"] == {
        "bad_address": 1,
        "bad_date": 1,
        "no_date": 1,  # the RMC with the impossible date could not be dated
        "parse_error": 1,
        "unsupported": 1,
    }
    assert fixes == []


@pytest.mark.parametrize("talker", ["GP", "GN", "GL", "GA", "GB", "BD", "GQ", "QZ", "GI"])
def test_all_constellation_talkers_are_accepted(talker: str) -> None:
    body = f"{talker}GGA,120000,4807.038,S,01131.000,W,1,08,0.9,545.4,M,46.9,M,,"
    sentence = parse_sentence(body)
    assert sentence.talker == talker
    assert sentence.lat == pytest.approx(-48.1173)
    assert sentence.lon == pytest.approx(-11.5166667)
