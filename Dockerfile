# The production image: one image, four roles (web, worker, beat, simulator) chosen by command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=dashboard.settings
WORKDIR /app

RUN useradd --create-home --uid 10001 pipewatch
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings to load; these placeholders exist only during the build.
RUN SECRET_KEY=build-only CREDENTIALS_KEY=dGhpcy1pcy1vbmx5LWZvci10aGUtYnVpbGQtc3RlcCE= \
    STATIC_ROOT=/app/staticfiles python manage.py collectstatic --noinput \
    && chown -R pipewatch /app
USER pipewatch
ENV STATIC_ROOT=/app/staticfiles

EXPOSE 8000
CMD ["gunicorn", "dashboard.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
