"""The WSGI entry point: `app = create_app()` from the environment's settings."""

from gateway import create_app

app = create_app()
