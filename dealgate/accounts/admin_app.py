"""Django's admin as INSTALLED_APPS names it, with the site whose sign-in is
limited as the login page's is (dealgate.accounts.admin_site). Kept apart
from apps.py, where a second app config would make Django guess."""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "dealgate.accounts.admin_site.DealgateAdminSite"
