# syntax=docker/dockerfile:1
# The gateway's image, built from the repository root:
#   docker build -t tfserving-gateway .
# Stage 1 has the compilers: it builds our wheel (Cython extensions, wire protos) and collects
# wheels for every runtime dependency. Stage 2 is python:3.11-slim plus those wheels, installed
# with the README's command: no compilers, no TensorFlow, a non-root user.

FROM python:3.11-slim AS builder
# gcc for fastpack's Cython extensions; Cython, setuptools and grpcio-tools (protoc) come from
# pyproject.toml's build requirements inside `pip wheel`.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[profile]"


FROM python:3.11-slim AS runtime
# The wheels are mounted from the builder for this one step, so they never become a layer.
# The versions were fixed when the builder resolved them; --no-index keeps it that way.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels "tfserving-gateway[profile]"

RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin gateway \
 && mkdir -p /specs /profiles \
 && chown gateway:gateway /profiles
# relative spec paths (`-s mymodel.json`) resolve in the mounted spec folder
WORKDIR /specs

# Configuration is by environment (flags given to `docker run` after the image name win):
#   APP_ENV           production | development
#   GATEWAY_WORKERS   worker processes; GATEWAY_SINGLE_PROCESS=1 for one process
#   GATEWAY_SPECS     spec files, comma-separated, e.g. /specs/inceptionv3.json (mount /specs)
#   GATEWAY_TARGET    TF Serving: host:port or unix:PATH; unset and no spec target: the embedded demo
#   GATEWAY_PROFILE=1 profile predictions into /profiles (mount it to read them)
ENV APP_ENV=production \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8000 \
    GATEWAY_PROFILE_DIR=/profiles \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
VOLUME ["/specs", "/profiles"]
EXPOSE 8000

USER 10001:10001
HEALTHCHECK --interval=15s --timeout=4s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GATEWAY_PORT', '8000'), timeout=3)"]
ENTRYPOINT ["python", "-m", "sanic_app"]
