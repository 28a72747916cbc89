"""ASGI entry point, for servers that prefer it; same checks as wsgi.py."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poppleproject.settings")

from poppleproject.secretkey import require_real_secret_key

require_real_secret_key()

application = get_asgi_application()
