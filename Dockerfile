# Two targets: `web` (the server: runtime requirements only) and `tests` (web plus the test
# requirements and tools; runs the README's test command, `make test`, as the same user).
FROM python:3.11-slim AS web

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system --home-dir /app statsapi && chown -R statsapi /app
USER statsapi
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn statsapi.wsgi:application --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-2} --worker-class gthread --threads 4"]

FROM web AS tests
USER root
# make runs the test command; curl, docker-compose and nginx (the proxy's configuration, run
# in front of a test gunicorn) are used by the tests themselves, and redis-server/redis-cli
# start the throwaway Redis servers and Cluster some tests need.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make curl docker-compose nginx-light \
       redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/*
# The Makefile's VENV is /opt/venv (from ENV); its stamps, touched after every COPY, say the
# requirements are in, so `make test` installs nothing as the unprivileged user. Tests that
# start servers find .venv/bin in the checkout, as on a laptop.
RUN pip install --no-cache-dir -r requirements-dev.txt \
    && touch /opt/venv/.runtime-installed /opt/venv/.dev-installed \
    && ln -s /opt/venv /app/.venv
USER statsapi
CMD ["make", "test"]
