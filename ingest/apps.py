from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "ingest"
    verbose_name = "Ingest"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ingest import signals  # noqa: F401  (cache invalidation on model saves)
        from ingest.inbound_filters import FilterOptions
        from organizations import project_options

        # The project API's `options` entries `filters:*` are ingest's inbound filters.
        project_options.register(FilterOptions())
