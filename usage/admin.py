"""Usage charts on the organization and DSN-key change pages of the admin.

organizations/ registers its admin pages without any counts (tenancy knows nothing of usage);
this module, loaded after it (INSTALLED_APPS order), registers the same pages again with the
charts of ``usage.admin_charts``. The project page gets its charts from ingest/admin.py, which
replaces that page with one that also shows the inbound filters.
"""

from __future__ import annotations

from django.contrib import admin

from organizations.admin import OrganizationAdmin, ProjectKeyAdmin
from organizations.models import Organization, ProjectKey
from usage.admin_charts import UsageChartsMixin


class OrganizationUsageAdmin(UsageChartsMixin, OrganizationAdmin):
    """The organization page with its usage charts."""


class ProjectKeyUsageAdmin(UsageChartsMixin, ProjectKeyAdmin):
    """The DSN key page with its usage charts."""


admin.site.unregister(Organization)
admin.site.register(Organization, OrganizationUsageAdmin)
admin.site.unregister(ProjectKey)
admin.site.register(ProjectKey, ProjectKeyUsageAdmin)
