from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "dealgate.insights"
    label = "insights"
