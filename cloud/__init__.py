"""fleetwire cloud: MQTT ingest, storage, processors (trips, HOS, alerts) and the HTTP API.

Imports ``wire``; never ``agent``.
"""
