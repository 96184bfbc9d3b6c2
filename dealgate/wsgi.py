"""The web application for a WSGI server: `dealgate serve` runs it under
gunicorn, and a server started by hand (`gunicorn dealgate.wsgi`) loads it
here too."""

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import request_started
from django.core.wsgi import get_wsgi_application

from dealgate import timesource

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealgate.settings")
application = get_wsgi_application()

# A DEALGATE_AS_OF that is no date stops the server as it starts, naming it,
# rather than failing every page that needs the time.
if settings.AS_OF:
    try:
        timesource.parse_as_of(settings.AS_OF)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DEALGATE_AS_OF: {exc}") from None

# On a demo database the pages run at the date it records, whichever server
# serves them, as the `dealgate` commands on it do; DEALGATE_AS_OF still wins,
# and a database that records no date runs at the real time.
timesource.use_recorded_as_of()


def _follow_recorded_as_of(**kwargs: object) -> None:
    # A pipeline of one's own applied, or the demo loaded again, in another
    # terminal shows within seconds, with no restart and no query per page.
    timesource.refresh_recorded_as_of()


request_started.connect(_follow_recorded_as_of, dispatch_uid="dealgate.wsgi.as_of")
