from django.apps import AppConfig


class DealsConfig(AppConfig):
    name = "dealgate.deals"
    label = "deals"
