from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "dealgate.leads"
    label = "leads"
