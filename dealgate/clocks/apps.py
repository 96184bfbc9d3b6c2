from django.apps import AppConfig


class ClocksConfig(AppConfig):
    name = "dealgate.clocks"
    label = "clocks"
    verbose_name = "Clocks and notices"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the receivers)
