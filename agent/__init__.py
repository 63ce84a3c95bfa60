"""fleetwire agent: runs on the in-cab gateway.

sources (GNSS serial, CAN) -> pipeline (quality, sampling, vehicle state, detectors)
-> outbox (SQLite) -> uplink (MQTT). Imports ``wire``; never ``cloud``.
"""
