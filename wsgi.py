"""Entry point for gunicorn (`wsgi:app`) and Celery (`-A wsgi.celery`)."""

import gc

from workflow import create_app

app = create_app()
celery = app.extensions["celery"]

# Everything built so far (modules, the app, its templates and statements) lives as long as
# the process: keep it out of the cyclic collector's scans, which otherwise walk it all on
# every full collection during requests.
gc.freeze()
