from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = "Organizations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the deploy checks (SECRET_KEY, in-memory TSDB) with Django's check framework.
        from statsapi import checks  # noqa: F401

        # Build the TSDB backend now: an unknown backend path or malformed rollups stop the
        # process at startup with ImproperlyConfigured, not at the first request.
        import tsdb

        tsdb.configure()
