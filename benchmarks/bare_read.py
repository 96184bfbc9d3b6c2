"""Settings for the server of benchmarks/leads.py: Dealgate's own, with one
more URL (bare_read_urls.py), a bare primary-key read to measure beside the
API on the same server.

    DJANGO_SETTINGS_MODULE=bare_read gunicorn --pythonpath benchmarks ...
"""

from dealgate.settings import *  # noqa: F403 - these settings, other URLs

ROOT_URLCONF = "bare_read_urls"
