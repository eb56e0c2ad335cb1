# The base plus uv, which installs the environments from the committed uv.lock: the image the
# light (and so the audio and train) images grow from, and the serving image's build stage.
ARG BASE
FROM ${BASE}
ARG UV_VERSION
ARG EXTRA_CA_PEM=""
COPY with-build-ca.sh /usr/local/bin/with-build-ca
RUN python3 -m venv /opt/uv \
 && with-build-ca /opt/uv/bin/pip install -q --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}" \
 && ln -s /opt/uv/bin/uv /usr/local/bin/uv
# uv uses Debian's interpreter, never a downloaded one.
ENV UV_PYTHON_DOWNLOADS=never UV_PYTHON=/usr/bin/python3.11 UV_NO_CACHE=1 UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv
