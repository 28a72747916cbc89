"""What Django's error page (DJANGO_DEBUG on) and its error mails may show of settings and variables."""

import re

from django.views.debug import SafeExceptionReporterFilter


class HideCredentials(SafeExceptionReporterFilter):
    # Django's own list (KEY, SECRET, PASS, TOKEN, AUTH...), plus the names whose values carry a
    # password inside: URLs (user:password@host), cache locations, Celery's broker and result backend.
    hidden_settings = re.compile(
        SafeExceptionReporterFilter.hidden_settings.pattern + "|URL|LOCATION|BROKER|RESULT_BACKEND",
        flags=re.IGNORECASE,
    )
