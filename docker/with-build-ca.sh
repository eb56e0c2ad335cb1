#!/bin/sh
# with-build-ca COMMAND...: run COMMAND trusting, besides Debian's roots, the PEM certificates in
# $EXTRA_CA_PEM (a build argument). Builds behind a TLS-intercepting proxy need them to reach
# PyPI; the bundle lives in /tmp for the one command, so no image ever trusts that proxy.
set -eu
bundle=$(mktemp)
trap 'rm -f "$bundle"' EXIT
cat /etc/ssl/certs/ca-certificates.crt > "$bundle"
printf '%s\n' "${EXTRA_CA_PEM:-}" >> "$bundle"
SSL_CERT_FILE=$bundle PIP_CERT=$bundle "$@"
