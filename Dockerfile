# The leadscore worker: `leadscore run` as a non-root user, state on the /data volume.
#
#   docker build -t leadscore .
#   docker run -d --name leadscore --env-file .env -v leadscore-data:/data leadscore
#
# Other commands run in the same image, e.g. `docker run --rm --env-file .env
# -v leadscore-data:/data leadscore backfill --dry-run`.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY scoring ./scoring
COPY connectors ./connectors
COPY jobs ./jobs
RUN python -m venv /opt/leadscore \
    && /opt/leadscore/bin/pip install ".[postgres]"

FROM python:3.11-slim
ENV PATH=/opt/leadscore/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LEADSCORE_DATABASE_URL=sqlite:////data/leadscore.db \
    LEADSCORE_HEARTBEAT_FILE=/data/leadscore.heartbeat \
    LEADSCORE_LOG_FORMAT=json
RUN groupadd --system --gid 10001 leadscore \
    && useradd --system --uid 10001 --gid leadscore --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin leadscore \
    && mkdir /data \
    && chown leadscore:leadscore /data \
    && chmod 0700 /data
COPY --from=build /opt/leadscore /opt/leadscore

USER leadscore
WORKDIR /data
VOLUME ["/data"]
# The webhook receiver's port, used only with LEADSCORE_WEBHOOK_ENABLED=true.
EXPOSE 8787

# Unhealthy when no sync cycle succeeded for three sync intervals (3 minutes by default).
HEALTHCHECK --interval=60s --timeout=15s --start-period=120s --retries=3 \
    CMD ["leadscore", "health"]
# `leadscore run` finishes the page in progress and exits on SIGTERM.
STOPSIGNAL SIGTERM
ENTRYPOINT ["leadscore"]
CMD ["run"]
