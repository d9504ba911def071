FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/* \
    && python -m venv /opt/venv
WORKDIR /app
COPY requirements.txt requirements-dev.txt ./
RUN pip install --no-cache-dir -r requirements-dev.txt \
    && touch /opt/venv/.runtime-installed /opt/venv/.dev-installed
COPY . .
RUN useradd --system --home /app statsapi && chown -R statsapi /app
USER statsapi
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn statsapi.wsgi:application --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-2} --worker-class gthread --threads 4 --access-logfile -"]
