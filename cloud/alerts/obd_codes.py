"""Readable descriptions of the generic SAE J2012 powertrain codes (P0xxx) and J1939 FMIs.

The table is written from the standard's generic code meanings; many groups follow a
fixed pattern (a sensor's circuit / range / low / high / intermittent), so those are
generated. ``describe("P0301")`` falls back to the code's system group for codes not in
the table and says so for manufacturer-specific ones (P1xxx, P3xxx).
"""

from __future__ import annotations

import re

_SENSOR_SUFFIXES = (
    "circuit malfunction",
    "circuit range/performance problem",
    "circuit low input",
    "circuit high input",
    "circuit intermittent",
)
_O2_SUFFIXES = (
    "circuit malfunction",
    "circuit low voltage",
    "circuit high voltage",
    "circuit slow response",
    "circuit no activity detected",
    "heater circuit malfunction",
)
_GEAR_SOLENOID_SUFFIXES = (
    "malfunction",
    "performance or stuck off",
    "stuck on",
    "electrical",
    "intermittent",
)


def _build() -> dict[str, str]:
    t: dict[str, str] = {}

    def sensor(base: int, name: str, suffixes: tuple[str, ...] = _SENSOR_SUFFIXES) -> None:
        for i, suffix in enumerate(suffixes):
            t[f"P{base + i:04d}"] = f"{name} {suffix}"

    # Fuel and air metering
    sensor(100, "Mass or volume air flow")
    sensor(105, "Manifold absolute pressure/barometric pressure")
    sensor(110, "Intake air temperature")
    sensor(115, "Engine coolant temperature")
    sensor(120, "Throttle/pedal position sensor/switch A")
    sensor(220, "Throttle/pedal position sensor/switch B")
    sensor(180, "Fuel temperature sensor A")
    sensor(185, "Fuel temperature sensor B")
    sensor(190, "Fuel rail pressure sensor")
    sensor(195, "Engine oil temperature sensor")
    t["P0125"] = "Insufficient coolant temperature for closed loop fuel control"
    t["P0126"] = "Insufficient coolant temperature for stable operation"
    t["P0127"] = "Intake air temperature too high"
    t["P0128"] = "Coolant thermostat (coolant temperature below thermostat regulating temperature)"
    for base, where in (
        (130, "bank 1 sensor 1"),
        (136, "bank 1 sensor 2"),
        (142, "bank 1 sensor 3"),
        (150, "bank 2 sensor 1"),
        (156, "bank 2 sensor 2"),
        (162, "bank 2 sensor 3"),
    ):
        for i, suffix in enumerate(_O2_SUFFIXES):
            t[f"P{base + i:04d}"] = f"O2 sensor {suffix} ({where})"
    t["P0170"] = "Fuel trim malfunction (bank 1)"
    t["P0171"] = "System too lean (bank 1)"
    t["P0172"] = "System too rich (bank 1)"
    t["P0173"] = "Fuel trim malfunction (bank 2)"
    t["P0174"] = "System too lean (bank 2)"
    t["P0175"] = "System too rich (bank 2)"
    t["P0087"] = "Fuel rail/system pressure too low"
    t["P0088"] = "Fuel rail/system pressure too high"
    t["P0089"] = "Fuel pressure regulator 1 performance"
    for bank, base in ((1, 10), (2, 20)):
        for cam, off in (("A", 0), ("B", 3)):
            t[f"P{base + off:04d}"] = f'"{cam}" camshaft position actuator circuit (bank {bank})'
            t[f"P{base + off + 1:04d}"] = (
                f'"{cam}" camshaft position timing over-advanced or system performance (bank {bank})'
            )
            t[f"P{base + off + 2:04d}"] = (
                f'"{cam}" camshaft position timing over-retarded (bank {bank})'
            )
    for base, where in (
        (30, "bank 1 sensor 1"),
        (36, "bank 1 sensor 2"),
        (50, "bank 2 sensor 1"),
        (56, "bank 2 sensor 2"),
    ):
        t[f"P{base:04d}"] = f"HO2S heater control circuit ({where})"
        t[f"P{base + 1:04d}"] = f"HO2S heater control circuit low ({where})"
        t[f"P{base + 2:04d}"] = f"HO2S heater control circuit high ({where})"
    t["P0068"] = "MAP/MAF - throttle position correlation"
    # Fuel and air metering (injector circuit)
    t["P0200"] = "Injector circuit malfunction"
    for cyl in range(1, 13):
        t[f"P{200 + cyl:04d}"] = f"Injector circuit malfunction - cylinder {cyl}"
    t["P0217"] = "Engine overtemperature condition"
    t["P0218"] = "Transmission over temperature condition"
    t["P0219"] = "Engine overspeed condition"
    t["P0230"] = "Fuel pump primary circuit malfunction"
    t["P0234"] = "Turbo/super charger overboost condition"
    t["P0299"] = "Turbo/super charger underboost condition"
    # Ignition system or misfire
    t["P0300"] = "Random/multiple cylinder misfire detected"
    for cyl in range(1, 13):
        t[f"P{300 + cyl:04d}"] = f"Cylinder {cyl} misfire detected"
    t["P0325"] = "Knock sensor 1 circuit malfunction (bank 1 or single sensor)"
    t["P0326"] = "Knock sensor 1 circuit range/performance (bank 1 or single sensor)"
    t["P0327"] = "Knock sensor 1 circuit low input (bank 1 or single sensor)"
    t["P0328"] = "Knock sensor 1 circuit high input (bank 1 or single sensor)"
    t["P0329"] = "Knock sensor 1 circuit input intermittent (bank 1 or single sensor)"
    t["P0330"] = "Knock sensor 2 circuit malfunction (bank 2)"
    t["P0331"] = "Knock sensor 2 circuit range/performance (bank 2)"
    t["P0332"] = "Knock sensor 2 circuit low input (bank 2)"
    t["P0333"] = "Knock sensor 2 circuit high input (bank 2)"
    t["P0334"] = "Knock sensor 2 circuit input intermittent (bank 2)"
    sensor(335, "Crankshaft position sensor A")
    sensor(340, "Camshaft position sensor A (bank 1 or single sensor)")
    sensor(345, "Camshaft position sensor A (bank 2)")
    t["P0350"] = "Ignition coil primary/secondary circuit malfunction"
    for i, letter in enumerate("ABCDEFGHIJKL", start=1):
        t[f"P{350 + i:04d}"] = f"Ignition coil {letter} primary/secondary circuit malfunction"
    t["P0380"] = "Glow plug/heater circuit A malfunction"
    t["P0381"] = "Glow plug/heater indicator circuit malfunction"
    # Auxiliary emission controls
    t["P0400"] = "Exhaust gas recirculation flow malfunction"
    t["P0401"] = "Exhaust gas recirculation flow insufficient detected"
    t["P0402"] = "Exhaust gas recirculation flow excessive detected"
    t["P0403"] = "Exhaust gas recirculation circuit malfunction"
    t["P0404"] = "Exhaust gas recirculation circuit range/performance"
    t["P0405"] = "Exhaust gas recirculation sensor A circuit low"
    t["P0406"] = "Exhaust gas recirculation sensor A circuit high"
    t["P0410"] = "Secondary air injection system malfunction"
    t["P0411"] = "Secondary air injection system incorrect flow detected"
    for bank, base in ((1, 420), (2, 430)):
        t[f"P{base:04d}"] = f"Catalyst system efficiency below threshold (bank {bank})"
        t[f"P{base + 1:04d}"] = f"Warm up catalyst efficiency below threshold (bank {bank})"
        t[f"P{base + 2:04d}"] = f"Main catalyst efficiency below threshold (bank {bank})"
        t[f"P{base + 3:04d}"] = f"Heated catalyst efficiency below threshold (bank {bank})"
        t[f"P{base + 4:04d}"] = f"Heated catalyst temperature below threshold (bank {bank})"
    evap = (
        "Evaporative emission control system malfunction",
        "Evaporative emission control system incorrect purge flow",
        "Evaporative emission control system leak detected (small leak)",
        "Evaporative emission control system purge control valve circuit malfunction",
        "Evaporative emission control system purge control valve circuit open",
        "Evaporative emission control system purge control valve circuit shorted",
        "Evaporative emission control system vent control circuit malfunction",
        "Evaporative emission control system vent control circuit open",
        "Evaporative emission control system vent control circuit shorted",
        "Evaporative emission control system vent valve/solenoid circuit malfunction",
        "Evaporative emission control system pressure sensor malfunction",
        "Evaporative emission control system pressure sensor range/performance",
        "Evaporative emission control system pressure sensor low input",
        "Evaporative emission control system pressure sensor high input",
        "Evaporative emission control system pressure sensor intermittent",
        "Evaporative emission control system leak detected (gross leak)",
        "Evaporative emission control system leak detected (very small leak)",
        "Evaporative emission control system leak detected (fuel cap loose/off)",
    )
    for i, text in enumerate(evap):
        t[f"P{440 + i:04d}"] = text
    sensor(460, "Fuel level sensor")
    t["P0480"] = "Cooling fan 1 control circuit malfunction"
    t["P0481"] = "Cooling fan 2 control circuit malfunction"
    t["P0482"] = "Cooling fan 3 control circuit malfunction"
    # Vehicle speed, idle control and auxiliary inputs
    t["P0500"] = "Vehicle speed sensor malfunction"
    t["P0501"] = "Vehicle speed sensor range/performance"
    t["P0502"] = "Vehicle speed sensor circuit low input"
    t["P0503"] = "Vehicle speed sensor intermittent/erratic/high"
    t["P0504"] = "Brake switch A/B correlation"
    t["P0505"] = "Idle control system malfunction"
    t["P0506"] = "Idle control system RPM lower than expected"
    t["P0507"] = "Idle control system RPM higher than expected"
    t["P0520"] = "Engine oil pressure sensor/switch circuit malfunction"
    t["P0521"] = "Engine oil pressure sensor/switch range/performance"
    t["P0522"] = "Engine oil pressure sensor/switch low voltage"
    t["P0523"] = "Engine oil pressure sensor/switch high voltage"
    t["P0524"] = "Engine oil pressure too low"
    t["P0560"] = "System voltage malfunction"
    t["P0561"] = "System voltage unstable"
    t["P0562"] = "System voltage low"
    t["P0563"] = "System voltage high"
    t["P0571"] = "Brake switch A circuit malfunction"
    t["P0572"] = "Brake switch A circuit low"
    t["P0573"] = "Brake switch A circuit high"
    # Computer and output circuits
    t["P0600"] = "Serial communication link malfunction"
    t["P0601"] = "Internal control module memory check sum error"
    t["P0602"] = "Control module programming error"
    t["P0603"] = "Internal control module keep alive memory (KAM) error"
    t["P0604"] = "Internal control module random access memory (RAM) error"
    t["P0605"] = "Internal control module read only memory (ROM) error"
    t["P0606"] = "Control module processor fault"
    t["P0627"] = "Fuel pump A control circuit open"
    t["P0641"] = "Sensor reference voltage A circuit open"
    # Transmission
    t["P0700"] = "Transmission control system malfunction (MIL request)"
    sensor(705, "Transmission range sensor")
    sensor(710, "Transmission fluid temperature sensor A")
    sensor(715, "Input/turbine speed sensor A")
    sensor(720, "Output speed sensor")
    sensor(725, "Engine speed input")
    t["P0730"] = "Incorrect gear ratio"
    for gear in range(1, 6):
        t[f"P{730 + gear:04d}"] = f"Gear {gear} incorrect ratio"
    t["P0736"] = "Reverse incorrect gear ratio"
    sensor(740, "Torque converter clutch", _GEAR_SOLENOID_SUFFIXES)
    for base, letter in ((750, "A"), (755, "B"), (760, "C"), (765, "D"), (770, "E")):
        sensor(base, f"Shift solenoid {letter}", _GEAR_SOLENOID_SUFFIXES)
    return t


P0_CODES: dict[str, str] = _build()

_GROUPS = {
    "0": "fuel and air metering, auxiliary emission controls",
    "1": "fuel and air metering",
    "2": "fuel and air metering (injector circuit)",
    "3": "ignition system or misfire",
    "4": "auxiliary emission controls",
    "5": "vehicle speed, idle control and auxiliary inputs",
    "6": "computer and output circuits",
    "7": "transmission",
    "8": "transmission",
    "9": "transmission",
    "A": "hybrid propulsion",
    "B": "hybrid propulsion",
    "C": "hybrid propulsion",
}
_LETTERS = {"P": "Powertrain", "C": "Chassis", "B": "Body", "U": "Network"}
_CODE = re.compile(r"^[PCBU][0-3][0-9A-F]{3}$")

# SAE J1939-73 failure mode identifiers.
FMI_TEXT: dict[int, str] = {
    0: "data valid but above normal operational range - most severe level",
    1: "data valid but below normal operational range - most severe level",
    2: "data erratic, intermittent or incorrect",
    3: "voltage above normal, or shorted to high source",
    4: "voltage below normal, or shorted to low source",
    5: "current below normal or open circuit",
    6: "current above normal or grounded circuit",
    7: "mechanical system not responding or out of adjustment",
    8: "abnormal frequency or pulse width or period",
    9: "abnormal update rate",
    10: "abnormal rate of change",
    11: "root cause not known",
    12: "bad intelligent device or component",
    13: "out of calibration",
    14: "special instructions",
    15: "data valid but above normal operating range - least severe level",
    16: "data valid but above normal operating range - moderately severe level",
    17: "data valid but below normal operating range - least severe level",
    18: "data valid but below normal operating range - moderately severe level",
    19: "received network data in error",
    20: "data drifted high",
    21: "data drifted low",
    31: "condition exists",
}

# A few common J1939 SPN names (J1939-71), for readable fault titles.
SPN_NAMES: dict[int, str] = {
    84: "Wheel-based vehicle speed",
    91: "Accelerator pedal position 1",
    94: "Engine fuel delivery pressure",
    97: "Water in fuel indicator",
    98: "Engine oil level",
    100: "Engine oil pressure",
    102: "Engine intake manifold 1 pressure",
    105: "Engine intake manifold 1 temperature",
    108: "Barometric pressure",
    109: "Engine coolant pressure",
    110: "Engine coolant temperature",
    111: "Engine coolant level",
    116: "Brake application pressure",
    117: "Brake primary pressure",
    118: "Brake secondary pressure",
    157: "Engine injector metering rail 1 pressure",
    158: "Keyswitch battery potential",
    168: "Battery potential / power input 1",
    171: "Ambient air temperature",
    175: "Engine oil temperature 1",
    183: "Engine fuel rate",
    190: "Engine speed",
    521: "Brake pedal position",
    1087: "Service brake circuit 1 air pressure",
    1088: "Service brake circuit 2 air pressure",
    3216: "Aftertreatment 1 intake NOx",
    3226: "Aftertreatment 1 outlet NOx",
    3251: "Aftertreatment 1 diesel particulate filter differential pressure",
}


def describe(code: str) -> str:
    """Readable meaning of an OBD-II DTC such as ``P0301``; never raises."""
    code = code.strip().upper()
    if code in P0_CODES:
        return P0_CODES[code]
    if not _CODE.match(code):
        return f"unrecognised code {code!r}"
    system = _LETTERS[code[0]]
    if code[1] in "13" or (code[0] in "BCU" and code[1] == "2"):
        return f"{system} code {code} (manufacturer-specific)"
    if code[0] == "P":
        return f"Powertrain code {code}: {_GROUPS.get(code[2], 'generic')}"
    return f"{system} code {code} (generic)"


def describe_j1939(spn: int, fmi: int) -> str:
    """``"Engine oil pressure: data valid but below ... (SPN 100 / FMI 1)"``."""
    name = SPN_NAMES.get(spn, f"SPN {spn}")
    return f"{name}: {FMI_TEXT.get(fmi, 'reserved failure mode')} (SPN {spn} / FMI {fmi})"
