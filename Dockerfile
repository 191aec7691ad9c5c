FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends git bubblewrap && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY amigo_api ./amigo_api
RUN pip install --no-cache-dir .
RUN useradd --create-home amigo && mkdir -p /data/git /data/blobs /data/tool-builds \
    && chown amigo /data/git /data/blobs
USER amigo
EXPOSE 8000
CMD ["amigo-api", "serve", "--host", "0.0.0.0", "--port", "8000"]
