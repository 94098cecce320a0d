# channelstream, built from this repository, served by an unprivileged user.
#
#   docker build -t channelstream .
#   docker run -p 8000:8000 \
#       -e CHANNELSTREAM_SECRET=... -e CHANNELSTREAM_ADMIN_SECRET=... \
#       -e CHANNELSTREAM_COOKIE_SECRET=... channelstream
#
# Every setting comes from a CHANNELSTREAM_* variable (the README's settings table); without
# real secrets the container refuses to start and says which ones. To use an ini instead,
# mount it and set CHANNELSTREAM_INI=/etc/channelstream/channelstream.ini.

FROM python:3.11-slim AS build
WORKDIR /src
COPY setup.py pyproject.toml README.md LICENSE ./
COPY channelstream ./channelstream
RUN python -m venv /opt/channelstream \
    && /opt/channelstream/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin channelstream
COPY --from=build /opt/channelstream /opt/channelstream
ENV PATH=/opt/channelstream/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CHANNELSTREAM_LISTEN=0.0.0.0:8000
USER channelstream
EXPOSE 8000
# /health answers 503 while the node cannot reach its engine.
HEALTHCHECK --interval=10s --timeout=5s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=3)"]
# SIGTERM (docker stop) closes attached sockets with 1001: clients reconnect and resume.
STOPSIGNAL SIGTERM
CMD ["channelstream"]
