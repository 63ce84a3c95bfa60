"""All SQL of the cloud: small functions over a Connection, every one scoped by ``fleet_id``."""
