# Python 3.11 (Debian's) + uv, the layer every corridos image shares. FROM the rootfs that
# base.sh imports; build.sh passes the tag.
ARG ROOTFS=corridos-rootfs:bookworm
FROM ${ROOTFS}
ARG UV_VERSION
ARG EXTRA_CA_PEM=""
COPY with-build-ca.sh /usr/local/bin/with-build-ca
RUN python3 -m venv /opt/uv \
 && with-build-ca /opt/uv/bin/pip install -q --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}" \
 && ln -s /opt/uv/bin/uv /usr/local/bin/uv
# uv uses Debian's interpreter, never a downloaded one; environments live in /opt/venv, outside
# the (read-only in the cluster) working directory.
ENV UV_PYTHON_DOWNLOADS=never UV_PYTHON=/usr/bin/python3.11 UV_NO_CACHE=1 UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp
WORKDIR /app
