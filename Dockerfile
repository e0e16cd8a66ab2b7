# vecdex image: the API (`vecdex serve`), the job worker (`vecdex worker`) and
# the one-shot migration (`vecdex db upgrade`) all run from this one image;
# docker-compose.yml picks the command per service.
#
# Two stages so the runtime image carries the installed project but not pip's
# build tree or the source checkout. torch is the CPU build, installed first
# from PyTorch's CPU index so `pip install .` does not pull a multi-GB CUDA build.

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A virtual environment is one directory, so the runtime stage can copy it whole.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Only what the package build needs (see [tool.setuptools] in pyproject.toml);
# copying "." would send .venv, .git and data into the image.
COPY pyproject.toml README.md ./
COPY embedders ./embedders
COPY indexers ./indexers
COPY service ./service
COPY migrations ./migrations
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && pip install .


FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VECDEX_DATA_DIR=/data

# A fixed, unprivileged uid: a compromised API process cannot write outside
# /data, and host bind mounts can be chowned to a known id.
RUN groupadd --system --gid 10001 vecdex \
    && useradd --system --uid 10001 --gid vecdex --home-dir /home/vecdex --create-home vecdex \
    && mkdir -p /data \
    && chown vecdex:vecdex /data

COPY --from=build /opt/venv /opt/venv

# Created (and owned by vecdex) before VOLUME, so a fresh named volume starts
# writable by the service user.
VOLUME ["/data"]
WORKDIR /home/vecdex
USER vecdex

EXPOSE 8000
CMD ["vecdex", "serve", "--host", "0.0.0.0", "--port", "8000"]
