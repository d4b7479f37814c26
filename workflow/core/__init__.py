"""App-wide plumbing: configuration, extensions, database, security headers, mail
transport, outbox relay, row cache, web helpers, input cleaning, Celery."""
