"""WSGI entry point for the web process (boards, admin, /interactions, health checks), served by gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poppleproject.settings")

from poppleproject.secretkey import require_real_secret_key

require_real_secret_key()

application = get_wsgi_application()
