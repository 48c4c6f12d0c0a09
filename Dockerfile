# syntax=docker/dockerfile:1
# callcore service image: multi-stage, slim, non-root, `callcore run` as the default command.
#   docker build -t callcore .
#   docker run --rm callcore --help
# The build stage turns the sources into a wheel (SQL migrations shipped inside it as callcore/_sql);
# the runtime stage installs only that wheel and its dependencies.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN pip install "build>=1.2"
COPY pyproject.toml README.md requirements.lock ./
COPY sql ./sql
COPY callcore ./callcore
RUN python -m build --wheel --outdir /dist

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="callcore" \
      org.opencontainers.image.description="Contact-center backend for Asterisk: ACD, predictive dialer, ARI/AMI/FastAGI" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    CALLCORE_HTTP_HOST=0.0.0.0 \
    CALLCORE_HTTP_PORT=8080 \
    CALLCORE_AGI_HOST=0.0.0.0 \
    CALLCORE_AGI_PORT=4573 \
    CALLCORE_STATE_DIR=/var/lib/callcore \
    CALLCORE_LOG_FORMAT=json
RUN groupadd --system --gid 10001 callcore \
    && useradd --system --uid 10001 --gid callcore --home-dir /var/lib/callcore --shell /usr/sbin/nologin callcore \
    && mkdir -p /var/lib/callcore/spill \
    && chown -R callcore:callcore /var/lib/callcore
COPY --from=build /dist/*.whl /src/requirements.lock /tmp/wheels/
# the dependencies exactly as locked, every file checked against its sha256 (requirements.lock, written by
# deploy/make_constraints.py for CPython 3.11 on x86_64/aarch64: another PYTHON_IMAGE needs its own hashes), then
# callcore's own wheel without dependency resolution; pip check proves nothing is missing. phonenumbers'
# geocoder and carrier data (42 MB) are never used by callcore (it uses the number metadata and the time-zone
# data) and are removed
RUN pip install --require-hashes --no-deps -r /tmp/wheels/requirements.lock \
    && pip install --no-deps --no-index /tmp/wheels/*.whl && pip check && rm -rf /tmp/wheels \
    && site=$(python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") \
    && rm -rf "$site/phonenumbers/geodata" "$site/phonenumbers/carrierdata"
USER 10001:10001
WORKDIR /var/lib/callcore
# all local state (configuration cache, journal spill files, local logs): one volume
VOLUME ["/var/lib/callcore"]
# HTTP API, /healthz, /readyz and /metrics; FastAGI
EXPOSE 8080 4573
STOPSIGNAL SIGTERM
# Liveness at CALLCORE_HTTP_HOST:CALLCORE_HTTP_PORT (a wildcard address is checked on loopback).
# Podman keeps HEALTHCHECK only in the Docker image format: podman build --format docker .
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os,sys,urllib.request; e=os.environ; h=e.get('CALLCORE_HTTP_HOST') or '127.0.0.1'; h={'0.0.0.0':'127.0.0.1','::':'::1'}.get(h,h); h=f'[{h}]' if ':' in h else h; p=e.get('CALLCORE_HTTP_PORT','8080'); sys.exit(0 if urllib.request.urlopen(f'http://{h}:{p}/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["callcore"]
CMD ["run"]
