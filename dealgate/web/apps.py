from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "dealgate.web"
    label = "web"

    def ready(self) -> None:
        from . import busy

        # A web request waits WEB_DB_WAIT for another writer, not a command's 20 s.
        busy.connect_signals()
