from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = "Organizations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the startup checks (SECRET_KEY, in-memory TSDB) with Django's check framework.
        from statsapi import checks  # noqa: F401
