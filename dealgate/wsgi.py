"""The web application for a WSGI server: `dealgate serve` runs it under
gunicorn, and a server started by hand (`gunicorn dealgate.wsgi`) loads it
here too."""

import os

from django.core.wsgi import get_wsgi_application

from dealgate import timesource

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealgate.settings")
application = get_wsgi_application()

# On a demo database the pages run at the date it records, whichever server
# serves them, as the `dealgate` commands on it do; DEALGATE_AS_OF still wins,
# and a database that records no date runs at the real time.
timesource.use_recorded_as_of()
