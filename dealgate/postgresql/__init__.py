"""Django's PostgreSQL backend, with a health check that costs no round trip.

Settings name it as the engine (`dealgate.postgresql`); see `base`.
"""
