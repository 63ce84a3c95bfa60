"""fleetwire simulator: a vehicle that drives a route and talks NMEA over a tty and
J1939 / OBD-II over a python-can bus. Imports ``wire`` at most; never agent or cloud."""
