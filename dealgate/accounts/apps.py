from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "dealgate.accounts"
    label = "accounts"
