# syntax=docker/dockerfile:1
# The copydesk image: one image for every role (listener, worker, beat, flower, one-off CLI runs).
# Dependencies come from uv.lock only (`uv sync --frozen`); no credentials are baked in: the store,
# broker and S3 credentials arrive through the environment at run time (see docker-compose.yml).

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.8
ENV UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /app
# Dependencies first, in their own layer: it is rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --extra flower --no-install-project
# Then the project itself, installed into the venv (not editable: the source tree is not shipped).
COPY README.md ./
COPY tasks ./tasks
COPY worker ./worker
RUN uv sync --frozen --no-dev --extra flower --no-editable

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# An unprivileged user; /var/lib/copydesk holds the few files a role writes (beat's schedule).
RUN groupadd --system --gid 10001 copydesk \
 && useradd --system --uid 10001 --gid copydesk --home-dir /var/lib/copydesk --create-home --shell /usr/sbin/nologin copydesk \
 && install -d -o copydesk -g copydesk /var/lib/copydesk/beat
COPY --from=build /app/.venv /app/.venv
WORKDIR /var/lib/copydesk
USER copydesk:copydesk
EXPOSE 8080 5555
# The command is the role (see docker-compose.yml): `copydesk worker`, `copydesk listen --http
# 0.0.0.0:8080`, `copydesk beat`, `celery -A worker.app flower`, or a one-off `copydesk sweep`.
CMD ["copydesk", "--help"]
