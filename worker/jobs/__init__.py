"""Celery tasks: thin entry points that take ids (bucket, key, etag), never documents."""
