from django.apps import AppConfig


class ClocksConfig(AppConfig):
    name = "dealgate.clocks"
    label = "clocks"
