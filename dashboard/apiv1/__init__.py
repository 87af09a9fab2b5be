"""`/api/v1/` on django-ninja: the OpenAPI schema and the docs page come from the code that serves it."""
