"""MQTT ingest: ``consumer`` is the transport (paho), ``handler`` stores what arrives."""
