# syntax=docker/dockerfile:1
# Goosuke: build a wheel in one stage, run it as a non-root user in another.
# The build stage does what tests/kernel/test_package.py proves works: `python -m build` makes the sdist and,
# from it, the wheel (hatchling, as [build-system] in pyproject.toml asks, in build's isolated environment).

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY tools ./tools
COPY resources ./resources
COPY agents ./agents
RUN python -m build --outdir /dist

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GOOSUKE_DATA_DIR=/data \
    GOOSUKE_HOST=0.0.0.0 \
    GOOSUKE_PORT=8765
RUN groupadd --system goosuke && useradd --system --gid goosuke --home-dir /data goosuke \
    && mkdir -p /data && chown goosuke:goosuke /data
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl
USER goosuke
VOLUME ["/data"]
EXPOSE 8765
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os,sys,urllib.request; port=os.environ.get('GOOSUKE_PORT','8765'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"
ENTRYPOINT ["goosuke"]
CMD ["serve"]
