"""Django's SQLite backend, which never commits a transaction by accident.

Settings name it as the engine (`dealgate.sqlite`); see `base`.
"""
