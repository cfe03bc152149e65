# syntax=docker/dockerfile:1
# One image for every service; the service is the command:
#   docker run IMAGE                              # serve all (the whole platform)
#   docker run IMAGE serve savings-gateway        # one savings service alone
#   docker run IMAGE db upgrade savings-users     # a one-shot migration
# docker-compose.yml runs the three savings services with it.

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: the package and its runtime dependencies in a virtualenv (no dev tools) ---
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /build
# What the wheel is built from (pyproject.toml names README.md; LICENSE goes into the wheel).
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# A wheel, not an editable install: the runtime image needs no source tree. Only the package's
# own dependencies: the optional dev and loadtest extras stay out.
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install /wheels/*.whl

# --- runtime: the virtualenv on the same slim Python, run by an unprivileged user ---
FROM ${PYTHON_IMAGE} AS runtime
# HOST: a container must listen on every interface (the settings' default is 127.0.0.1).
# BACKOFFICE_HOME: where development-only state goes (key pair, embedded servers) when no
# URL or key file is given; the user's own folder, since the code is read-only to it.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    BACKOFFICE_HOME=/app/.backoffice
RUN groupadd --system --gid 10001 backoffice \
    && useradd --system --uid 10001 --gid backoffice --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin backoffice \
    && install --directory --owner backoffice --group backoffice /app
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# Numeric, so that a runtime can check it is not root (Kubernetes' runAsNonRoot).
USER 10001:10001
EXPOSE 8000
# Liveness only: /ready also needs the databases and NATS, which compose checks per service.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORT}/health', timeout=3)"
ENTRYPOINT ["backoffice"]
CMD ["serve", "all"]
