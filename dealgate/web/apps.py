from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "dealgate.web"
    label = "web"
