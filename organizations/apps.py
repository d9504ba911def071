from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = "Organizations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import tsdb
        from statsapi import checks  # noqa: F401  (registers the deploy checks)

        # Build the TSDB backend now: an unknown backend path or malformed rollups stop the
        # process at startup with ImproperlyConfigured, not at the first request.
        tsdb.configure()
        from organizations import signals

        signals.connect()  # clears the access cache on every change that matters
