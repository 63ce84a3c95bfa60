"""NMEA 0183 output of the simulated GPS receiver: RMC, GGA, VTG and GSA sentences
with correct checksums, built from the vehicle state at whole seconds of sim time,
with an optional slowly wandering position error (metres) and a realistic fix quality
(8–12 satellites, HDOP ≈ 0.8–1.2)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

from sim import geo

KNOTS_PER_KMH = 1 / 1.852
PRNS = (2, 5, 6, 9, 12, 13, 15, 17, 19, 20, 24, 25, 28, 29)


def checksum(body: str) -> str:
    """XOR of all characters between ``$`` and ``*``, as two upper-case hex digits."""
    value = 0
    for ch in body.encode("ascii"):
        value ^= ch
    return f"{value:02X}"


def sentence(body: str) -> str:
    """A complete sentence ``$<body>*CS`` with CR LF."""
    return f"${body}*{checksum(body)}\r\n"


def _lat(value: float) -> tuple[str, str]:
    hemi = "N" if value >= 0 else "S"
    value = abs(value)
    deg = int(value)
    minutes = (value - deg) * 60.0
    if round(minutes, 5) >= 60.0:  # rounding would print 60.00000 minutes
        deg, minutes = deg + 1, 0.0
    return f"{deg:02d}{minutes:08.5f}", hemi


def _lon(value: float) -> tuple[str, str]:
    hemi = "E" if value >= 0 else "W"
    value = abs(value)
    deg = int(value)
    minutes = (value - deg) * 60.0
    if round(minutes, 5) >= 60.0:
        deg, minutes = deg + 1, 0.0
    return f"{deg:03d}{minutes:08.5f}", hemi


@dataclass(frozen=True)
class Fix:
    """What the receiver reports for one epoch (position already includes any noise)."""

    utc: datetime
    lat: float
    lon: float
    speed_kmh: float
    course_deg: float
    altitude_m: float
    geoid_sep_m: float
    sats: int
    hdop: float


def format_fix(fix: Fix, talker: str = "GP") -> list[str]:
    """RMC, GGA, VTG and GSA sentences for one fix, in the order a receiver sends them."""
    hms = fix.utc.strftime("%H%M%S") + f".{fix.utc.microsecond // 10000:02d}"
    date = fix.utc.strftime("%d%m%y")
    lat, ns = _lat(fix.lat)
    lon, ew = _lon(fix.lon)
    knots = fix.speed_kmh * KNOTS_PER_KMH
    course = f"{fix.course_deg % 360.0:.1f}"
    rmc = f"{talker}RMC,{hms},A,{lat},{ns},{lon},{ew},{knots:.2f},{course},{date},,,A"
    gga = (
        f"{talker}GGA,{hms},{lat},{ns},{lon},{ew},1,{fix.sats:02d},{fix.hdop:.2f},"
        f"{fix.altitude_m:.1f},M,{fix.geoid_sep_m:.1f},M,,"
    )
    vtg = f"{talker}VTG,{course},T,,M,{knots:.2f},N,{fix.speed_kmh:.2f},K,A"
    used = [f"{prn:02d}" for prn in PRNS[: fix.sats]] + [""] * (12 - fix.sats)
    pdop, vdop = fix.hdop * 1.6, fix.hdop * 1.3
    gsa = f"{talker}GSA,A,3,{','.join(used)},{pdop:.2f},{fix.hdop:.2f},{vdop:.2f}"
    return [sentence(s) for s in (rmc, gga, vtg, gsa)]


class GpsReceiver:
    """Turns true positions into receiver fixes: a first-order Gauss-Markov position
    error with standard deviation ``noise_m`` (0 = exact) and a slowly changing
    satellite count; the course holds its last value while standing still."""

    def __init__(
        self, noise_m: float = 0.0, seed: int | None = None, initial_course_deg: float = 0.0
    ) -> None:
        if noise_m < 0 or not math.isfinite(noise_m):
            raise ValueError(f"GPS noise must be a finite number of metres ≥ 0, got {noise_m}")
        self.noise_m = noise_m
        self._rng = random.Random(seed)
        self._err_n = 0.0
        self._err_e = 0.0
        self._sats = 10
        self._course = initial_course_deg % 360.0

    def fix(
        self,
        utc: datetime,
        lat: float,
        lon: float,
        speed_kmh: float,
        heading_deg: float,
        altitude_m: float,
        geoid_sep_m: float = 0.0,
    ) -> Fix:
        if self.noise_m > 0:
            alpha = math.exp(-1.0 / 30.0)  # 30 s correlation time at 1 Hz
            scale = self.noise_m * math.sqrt(1 - alpha * alpha)
            self._err_n = alpha * self._err_n + scale * self._rng.gauss(0.0, 1.0)
            self._err_e = alpha * self._err_e + scale * self._rng.gauss(0.0, 1.0)
            lat, lon = geo.offset_m(lat, lon, self._err_n, self._err_e)
        if self._rng.random() < 0.05:
            self._sats = max(8, min(12, self._sats + self._rng.choice((-1, 1))))
        if speed_kmh >= 1.0:
            self._course = heading_deg
        hdop = round(0.8 + (12 - self._sats) * 0.1, 2)
        return Fix(
            utc=utc,
            lat=lat,
            lon=lon,
            speed_kmh=speed_kmh,
            course_deg=self._course,
            altitude_m=altitude_m,
            geoid_sep_m=geoid_sep_m,
            sats=self._sats,
            hdop=hdop,
        )
