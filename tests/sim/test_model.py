"""The route, vehicle and encoding building blocks, driven directly (no I/O)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pynmea2
import pytest

from sim import geo
from sim.faults import obd_dtc_bytes, parse_fault
from sim.nmea_out import Fix, checksum, format_fix
from sim.route import RouteError, list_routes, load_route, route_from_dict
from sim.vehicle import Scenario, Vehicle, VehicleParams
from sim.vin import validate_vin


def test_shipped_route_is_a_realistic_closed_loop() -> None:
    names = [p.stem for p in list_routes()]
    assert "chicago_west_loop" in names
    route = load_route("chicago_west_loop")
    assert 5_000 <= route.length_m <= 10_000
    assert route.is_closed(tolerance_m=5)
    assert (
        "hand-made"
        in json.loads((Path(list_routes()[0]).parent / "chicago_west_loop.json").read_text())[
            "source"
        ]
    )
    assert len(route.stops) >= 3
    for stop in route.stops:
        lat, lon, _ = route.position_at(stop.dist_m)
        assert route.distance_to(lat, lon) < 0.5


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({"points": [[41.0, -87.0]]}, "two distinct points"),
        ({"points": [[41.0, -87.0], [41.0, -87.0]]}, "two distinct points"),
        ({"points": [[91.0, -87.0], [41.0, -87.0]]}, "not a valid WGS84"),
        ({"points": [[41.0, "x"], [41.0, -87.0]]}, "finite number"),
        (
            {"points": [[41.0, -87.0], [41.001, -87.0]], "stops": [{"at": [41.1, -87.0]}]},
            "from the route",
        ),
        ({"points": [[41.0, -87.0], [41.001, -87.0]], "speed_limit_kmh": 1000}, "outside"),
    ],
)
def test_bad_routes_are_rejected_with_a_reason(data: object, message: str) -> None:
    with pytest.raises(RouteError, match=message):
        route_from_dict(data)


def test_unknown_route_name_lists_the_shipped_ones(tmp_path: Path) -> None:
    with pytest.raises(RouteError, match="chicago_west_loop"):
        load_route("no-such-route")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(RouteError, match="cannot read route"):
        load_route(broken)


def test_vehicle_drives_the_whole_loop_within_physical_limits() -> None:
    route = load_route("chicago_west_loop")
    params = VehicleParams()
    vehicle = Vehicle(route, params, Scenario(idle_before_s=60, engine_off_at_end=True))
    dt = 0.1
    prev = vehicle.snapshot()
    corner_speeds: list[float] = []
    corners = {
        round(route.cum_m[i]): i
        for i in range(1, len(route.points) - 1)
        if geo.turn_angle_deg(route.bearings[i - 1], route.bearings[i]) > 80
    }
    while vehicle.phase != "finished" and vehicle.t_s < 4000:
        vehicle.step(dt)
        s = vehicle.snapshot()
        limit = route.limits_kmh[route.segment_at(s.dist_m)]
        assert s.speed_kmh <= max(limit, route.limits_kmh[route.segment_at(prev.dist_m)]) + 0.01
        assert -params.max_decel_mps2 - 1e-6 <= s.accel_mps2 <= params.max_accel_mps2 + 1e-6
        assert s.odometer_km >= prev.odometer_km
        assert s.engine_hours >= prev.engine_hours
        assert s.coolant_c <= params.coolant_target_c + 1e-6
        if s.engine_on and s.speed_kmh == 0:
            assert s.rpm == params.idle_rpm
        if s.engine_on and s.speed_kmh > 0:
            assert params.idle_rpm <= s.rpm <= params.upshift_rpm + 1
        for corner_m in corners:
            if prev.dist_m <= corner_m <= s.dist_m:
                corner_speeds.append(s.speed_kmh)
        prev = s
    assert vehicle.phase == "finished"
    final = vehicle.snapshot()
    assert final.dist_m == pytest.approx(route.length_m)
    assert final.odometer_km - params.odometer_km == pytest.approx(route.length_m / 1000, abs=1e-6)
    assert not final.engine_on and final.rpm == 0
    # Corners: slow enough for a 12 m kerb radius at 2 m/s² lateral (≈ 17.6 km/h).
    assert corner_speeds and max(corner_speeds) <= math.sqrt(2.0 * 12.0) * 3.6 + 1.0
    # The coolant has warmed up during ~25 minutes of driving and dwelling.
    assert final.coolant_c > 75
    per_100km = 100 * final.trip_fuel_l / final.trip_km
    assert 10 < per_100km < 60
    assert final.fuel_used_l == pytest.approx(params.fuel_used_l + final.trip_fuel_l)
    # Stops: the idle, three deliveries, two signals and the end dwell all took time.
    assert final.t_s > 60 + 240 + 180 + 300 + 25 + 20 + 10 + route.length_m / (48 / 3.6)


def test_loop_mode_closes_the_route_and_counts_laps() -> None:
    route = route_from_dict(
        {"points": [[41.8855, -87.65206], [41.8855, -87.654486], [41.88731, -87.654486]]}
    )
    vehicle = Vehicle(route, scenario=Scenario(loop=True, end_dwell_s=2))
    while vehicle.lap < 2 and vehicle.t_s < 2000:
        vehicle.step(0.1)
    assert vehicle.lap == 2
    lat, lon, _ = vehicle.route.position_at(0)
    assert vehicle.route.points[-1] == vehicle.route.points[0] == (lat, lon)
    closed_length = vehicle.route.length_m
    assert vehicle.odometer_km - VehicleParams().odometer_km == pytest.approx(
        2 * closed_length / 1000 + vehicle.dist_m / 1000
    )


def test_nmea_sentences_have_checksums_pynmea2_accepts() -> None:
    from datetime import UTC, datetime

    fix = Fix(
        datetime(2026, 3, 2, 6, 30, 5, tzinfo=UTC), -33.5, 151.25, 36.0, 91.5, 181.0, -33.9, 9, 1.1
    )
    lines = format_fix(fix, "GN")
    assert [line[3:6] for line in lines] == ["RMC", "GGA", "VTG", "GSA"]
    for line in lines:
        assert line.endswith("\r\n")
        msg = pynmea2.parse(line.strip(), check=True)
        body, cs = line.strip()[1:].split("*")
        assert cs == checksum(body)
        assert msg.talker == "GN"
    rmc = pynmea2.parse(lines[0].strip(), check=True)
    assert rmc.latitude == pytest.approx(-33.5, abs=1e-7)
    assert rmc.longitude == pytest.approx(151.25, abs=1e-7)
    assert float(rmc.spd_over_grnd) == pytest.approx(36.0 / 1.852, abs=0.01)
    assert rmc.datestamp.isoformat() == "2026-03-02"
    gga = pynmea2.parse(lines[1].strip(), check=True)
    assert int(gga.num_sats) == 9 and float(gga.horizontal_dil) == pytest.approx(1.1)
    assert float(gga.altitude) == 181.0


def test_fault_parsing_and_dtc_encoding() -> None:
    f = parse_fault("110:0:300")
    assert (f.spn, f.fmi, f.at_s, f.is_obd) == (110, 0, 300.0, False)
    assert parse_fault("p0217").code == "P0217"
    assert obd_dtc_bytes("P0217") == bytes([0x02, 0x17])
    assert obd_dtc_bytes("U0100") == bytes([0xC1, 0x00])
    assert obd_dtc_bytes("C1234") == bytes([0x52, 0x34])
    for bad in ("110", "x:1", "600000:1", "110:32", "110:1:-5", "P0217:1:2"):
        with pytest.raises(ValueError, match="fault"):
            parse_fault(bad)


def test_vin_check_digit() -> None:
    assert validate_vin("1m8gdm9axkp042788") == "1M8GDM9AXKP042788"
    with pytest.raises(ValueError, match="check digit"):
        validate_vin("1M8GDM9A1KP042788")
    with pytest.raises(ValueError, match="17 characters"):
        validate_vin("1M8GDM9AXKP04278O")
