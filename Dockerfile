# The connector image. Airbyte's Python connector base: Python 3.11, user `airbyte` (uid 1000).
# Without Docker Hub, build on another copy of that base: docker build --build-arg BASE_IMAGE=<image> .
# (or BASE_IMAGE=<image> make docker-test; integration_tests/docker_smoke.py says what it does without it).
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73
FROM ${BASE_IMAGE}

WORKDIR /airbyte/integration_code

# The package and its runtime dependencies only (no dev or demo extras), pinned by constraints.txt.
COPY pyproject.toml constraints.txt README.md main.py ./
COPY source_partoo ./source_partoo
RUN pip install --no-cache-dir --disable-pip-version-check -c constraints.txt . \
 && rm -rf /root/.cache build source_partoo.egg-info

ENV AIRBYTE_ENTRYPOINT="python /airbyte/integration_code/main.py"
ENTRYPOINT ["python", "/airbyte/integration_code/main.py"]

LABEL io.airbyte.name=airbyte/source-partoo
LABEL io.airbyte.version=0.8.0

USER airbyte
