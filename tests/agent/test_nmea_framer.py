"""NMEA framer: byte-stream framing, resynchronisation and reject counting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.decode.nmea import NmeaDecoder
from agent.decode.nmea_epoch import ClockParams
from agent.decode.nmea_framer import NmeaFramer, nmea_checksum

RMC = "GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W"
GGA = "GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"


def sentence(body: str) -> bytes:
    return f"${body}*{nmea_checksum(body.encode()):02X}\r\n".encode()


def test_checksum_matches_the_nmea_reference_example() -> None:
    # The classic GGA example from the NMEA 0183 literature carries checksum 47.
    assert nmea_checksum(GGA.encode()) == 0x47


def test_plain_lines_come_out_without_dollar_and_checksum() -> None:
    f = NmeaFramer()
    assert f.feed(sentence(RMC) + sentence(GGA)) == [RMC, GGA]
    assert f.sentences == 2
    assert not f.rejects


def test_bad_checksum_is_counted_and_the_next_sentence_survives() -> None:
    f = NmeaFramer()
    broken = sentence(RMC).replace(b"A,4807", b"V,4807")
    assert f.feed(broken + sentence(GGA)) == [GGA]
    assert f.rejects == {"bad_checksum": 1}


def test_resynchronises_on_dollar_inside_a_cut_sentence() -> None:
    f = NmeaFramer()
    cut = sentence(RMC)[:30]  # no line end: the next "$" interrupts it
    assert f.feed(cut + sentence(GGA)) == [GGA]
    assert f.rejects == {"truncated": 1}


def test_binary_garbage_with_dollar_bytes_is_skipped_not_rejected() -> None:
    f = NmeaFramer()
    junk = bytes([0xBA, 0xCE, 0x24, 0x74, 0x49, 0x85, 0x00, 0x24, 0x24, 0xFF, 0x0D, 0x0A])
    assert f.feed(junk + sentence(GGA) + junk + sentence(RMC)) == [GGA, RMC]
    assert not f.rejects
    assert f.skipped_bytes >= 2 * len(junk)


def test_double_dollar_missing_and_doubled_line_ends() -> None:
    f = NmeaFramer()
    stream = b"$" + sentence(RMC).rstrip(b"\r\n") + sentence(GGA) + b"\r\n\r\n" + sentence(RMC)
    assert f.feed(stream) == [RMC, GGA, RMC]
    assert not f.rejects


def test_missing_checksum_rejected_unless_allowed() -> None:
    line = f"${GGA}\r\n".encode()
    strict = NmeaFramer()
    assert strict.feed(line) == []
    assert strict.rejects == {"no_checksum": 1}
    lenient = NmeaFramer(allow_missing_checksum=True)
    assert lenient.feed(line) == [GGA]


def test_over_long_sentence_is_rejected_even_with_a_good_checksum() -> None:
    body = "GPTXT," + "X" * 120
    f = NmeaFramer(max_chars=100)
    assert f.feed(sentence(body) + sentence(GGA)) == [GGA]
    assert f.rejects == {"too_long": 1}


def test_over_long_run_without_terminator_does_not_grow_the_buffer() -> None:
    f = NmeaFramer(max_chars=100)
    f.feed(b"$GPTXT," + b"A" * 5000)
    assert f.pending_bytes == 0
    assert f.rejects == {"too_long": 1}


def test_malformed_checksum_field_and_truncation_at_end() -> None:
    f = NmeaFramer()
    assert f.feed(f"${GGA}*4$".encode() + sentence(RMC) + b"$GPGGA,1235") == [RMC]
    f.finish()
    assert f.rejects == {"bad_checksum": 1, "truncated": 1}


@pytest.mark.parametrize("cut", [1, 5, 40, 75, 78, 80])
def test_any_chunk_boundary_gives_the_same_result(cut: int) -> None:
    stream = sentence(RMC) + sentence(GGA)
    f = NmeaFramer()
    assert f.feed(stream[:cut]) + f.feed(stream[cut:]) == [RMC, GGA]


# ---------------------------------------------------------------- properties
_field = st.text(alphabet="0123456789.ABCNSEWMV-", max_size=10)
_body = st.builds(
    lambda talker, kind, fields: f"{talker}{kind}," + ",".join(fields),
    st.sampled_from(["GP", "GN", "GL", "GA", "GB", "BD", "GQ", "GI"]),
    st.sampled_from(["RMC", "GGA", "GSA", "VTG", "GSV", "ZDA"]),
    st.lists(_field, max_size=8),
)
# Junk without "$" or "*" can neither start nor complete a sentence.
_junk = st.binary(max_size=40).map(lambda b: b.replace(b"$", b"").replace(b"*", b""))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(1, 64), max_size=50))
def test_random_bytes_never_raise(data: bytes, chunks: list[int]) -> None:
    f = NmeaFramer()
    pos = 0
    for size in chunks:
        for body in f.feed(data[pos : pos + size]):
            assert isinstance(body, str)
        pos += size
    f.feed(data[pos:])
    f.finish()
    assert f.pending_bytes == 0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_body, _junk, st.booleans()), min_size=1, max_size=25),
    st.lists(st.integers(1, 97), max_size=60),
)
def test_every_complete_sentence_comes_out_exactly_once(
    items: list[tuple[str, bytes, bool]], chunks: list[int]
) -> None:
    stream = bytearray()
    expected: list[str] = []
    for body, junk, cut in items:
        line = sentence(body)
        if cut:
            # A sentence cut short (receiver reset) right before the next "$".
            stream += line[: max(1, len(line) // 2)]
            stream += b"$"
        stream += junk
        stream += line
        expected.append(body)
    f = NmeaFramer()
    got: list[str] = []
    pos = 0
    for size in chunks:
        got += f.feed(bytes(stream[pos : pos + size]))
        pos += size
    got += f.feed(bytes(stream[pos:]))
    f.finish()
    assert got == expected


_printable_field = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="$*,"),
    max_size=12,
)
_any_body = st.builds(
    lambda talker, kind, fields: f"{talker}{kind}," + ",".join(fields),
    st.sampled_from(["GP", "GN", "BD", "XX", "P", "G"]),
    st.sampled_from(["RMC", "GGA", "GNS", "GSA", "VTG", "GST", "GLL", "ZDA", "GSV", ""]),
    st.lists(_printable_field, max_size=20),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_any_body.map(sentence), st.binary(max_size=30)), max_size=30))
def test_decoder_never_raises_on_checksummed_nonsense(parts: list[bytes]) -> None:
    """Sentences with valid checksums but arbitrary fields are counted, never fatal."""
    decoder = NmeaDecoder(clock=ClockParams(date_floor=None))
    fixes = decoder.feed(b"".join(parts)) + decoder.finish()
    stats = decoder.stats()
    assert stats["fixes"] == len(fixes)
    assert all(isinstance(f.time_ms, int) for f in fixes)


_REAL = [
    "GNRMC,223745.00,A,3806.62964,N,12237.61382,W,0.040,,110720,,,D,V",
    "GNGGA,223745.00,3806.62964,N,12237.61382,W,2,12,0.54,83.1,M,-29.5,M,,0000",
    "GNGSA,A,3,29,20,18,16,51,13,44,26,,,,,0.99,0.54,0.83,1",
    "GNGST,223745.00,228650,2.5,2.4,126,0.98,1.0,3.1",
    "GNZDA,223745.00,11,07,2020,00,00",
    "GNGLL,3806.62964,N,12237.61382,W,223745.00,A,D",
    "GNGNS,191506.99,3645.868875,N,03124.655730,E,AAN,08,1.3,-17.7,32.0,,,V",
    "GPVTG,237.0,T,233.4,M,0.8,N,1.6,K,A",
]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_REAL),
            st.integers(0, 20),
            _printable_field,
            st.sampled_from(["replace", "drop", "insert"]),
        ),
        max_size=40,
    )
)
def test_decoder_survives_mutated_real_sentences(edits: list[tuple[str, int, str, str]]) -> None:
    """Real sentences with one field replaced, dropped or inserted: counted, never fatal."""
    stream = bytearray()
    for body, index, text, how in edits:
        fields = body.split(",")
        i = 1 + index % (len(fields) - 1)
        if how == "replace":
            fields[i] = text
        elif how == "drop":
            del fields[i]
        else:
            fields.insert(i, text)
        stream += sentence(",".join(fields))
    decoder = NmeaDecoder(clock=ClockParams(date_floor=None))
    fixes = decoder.feed(bytes(stream)) + decoder.finish()
    stats = decoder.stats()
    assert stats["sentences"] == len(edits)
    assert stats["used"] + sum(stats["rejects"].get(r, 0) for r in ("parse_error",)) == len(edits)
    for f in fixes:
        lat, lon = f.data["lat"], f.data["lon"]
        assert lat is None or -90 <= lat <= 90
        assert lon is None or -180 <= lon <= 180
