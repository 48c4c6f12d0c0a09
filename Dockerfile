# syntax=docker/dockerfile:1
# callcore service image: multi-stage, slim, non-root, `callcore run` as entrypoint.

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY callcore ./callcore
COPY sql ./sql
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CALLCORE_HTTP_HOST=0.0.0.0 \
    CALLCORE_AGI_HOST=0.0.0.0 \
    CALLCORE_JOURNAL_SPILL_DIR=/var/lib/callcore/spill
RUN groupadd --system callcore && useradd --system --gid callcore --home-dir /var/lib/callcore callcore \
    && mkdir -p /var/lib/callcore/spill && chown -R callcore:callcore /var/lib/callcore
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl
USER callcore
WORKDIR /var/lib/callcore
VOLUME ["/var/lib/callcore/spill"]
EXPOSE 8080 4573
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os,sys,urllib.request; p=os.environ.get('CALLCORE_HTTP_PORT','8080'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["callcore"]
CMD ["run"]
