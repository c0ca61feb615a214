# Anzhi (安置) service image.
#
# Production needs an external PostgreSQL >= 15 and a real secret:
#   docker run -p 8000:8000 \
#     -e DATABASE_URL=postgresql+asyncpg://USER:PASS@HOST:5432/anzhi \
#     -e ANZHI_ENV=production -e SECRET_KEY=... anzhi
# On start the container applies the migrations (`anzhi migrate`), then serves on port 8000.
# Without DATABASE_URL it falls back to an embedded PostgreSQL in /var/lib/anzhi: for a trial only.
# Other commands: docker run --rm --entrypoint anzhi -e DATABASE_URL=... anzhi users create --help
FROM python:3.11-slim-bookworm

# WeasyPrint needs Pango and HarfBuzz subsetting; PDFs and pages need CJK fonts.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

RUN pip install --no-cache-dir uv

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    PATH=/app/.venv/bin:$PATH \
    DATA_DIR=/var/lib/anzhi

WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
RUN uv sync --frozen --no-dev

RUN useradd --system --create-home --uid 10001 --user-group anzhi \
    && mkdir -p /var/lib/anzhi \
    && chown anzhi:anzhi /var/lib/anzhi
USER anzhi

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Extra `docker run` arguments are passed on to `anzhi serve`.
ENTRYPOINT ["/bin/sh", "-c", "anzhi migrate && exec anzhi serve --host 0.0.0.0 --port 8000 \"$@\"", "anzhi-entrypoint"]
