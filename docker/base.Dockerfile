# What every corridos image runs on: Debian's Python 3.11 and FluidSynth with the GM SoundFont that
# plays generated pieces (evaluation samples, the service's answers). The other SoundFonts of
# corridos/audio/soundfonts.py (480 MB) render training mixtures only: the light image adds them.
# FROM the rootfs that base.sh imports; build.sh passes the tag.
ARG ROOTFS=corridos-rootfs:bookworm
FROM ${ROOTFS}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fluidsynth fluid-soundfont-gm \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
# Environments live in /opt/venv, outside the (read-only in the cluster) working directory.
ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp
WORKDIR /app
