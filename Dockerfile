# One image for every component; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY assetgw assetgw
COPY gateway gateway
COPY connectors connectors
COPY infra infra
COPY schemas schemas
COPY simulators simulators
RUN pip install --no-cache-dir .
ENV ASSETGW_DATA_DIR=/data
ENTRYPOINT ["assetgw"]
