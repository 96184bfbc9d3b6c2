from django.apps import AppConfig


class BuilderConfig(AppConfig):
    name = "dealgate.builder"
    label = "builder"
