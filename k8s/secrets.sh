#!/usr/bin/env bash
# Generate the platform's credentials as random values into the git-ignored env files that the
# kustomizations' secretGenerators read. Existing files are kept (rotating means deleting them,
# re-running and re-applying). usage: k8s/secrets.sh [K8S_DIR]  (default: this script's folder)
set -euo pipefail
k8s=${1:-$(cd "$(dirname "$0")" && pwd)}
umask 077
mkdir -p "$k8s/base/secrets" "$k8s/pipeline-access/secrets"

# Hex keeps the values safe inside URIs (postgresql://user:password@...) and env files.
random() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

write() {  # write FILE KEY=VALUE...: create FILE unless it exists
  local file=$1; shift
  if [ -s "$file" ]; then echo "kept      $file"; return; fi
  printf '%s\n' "$@" >"$file"
  echo "generated $file"
}

base=$k8s/base/secrets
write "$base/s3.env" "AWS_ACCESS_KEY_ID=corridos$(random 6)" "AWS_SECRET_ACCESS_KEY=$(random 24)"
write "$base/postgres.env" "POSTGRES_USER=mlflow" "POSTGRES_PASSWORD=$(random 24)"
write "$base/mlflow-admin.env" "MLFLOW_AUTH_ADMIN_USERNAME=admin" "MLFLOW_AUTH_ADMIN_PASSWORD=$(random 24)" \
  "MLFLOW_FLASK_SERVER_SECRET_KEY=$(random 32)"
write "$base/mlflow-pipeline.env" "MLFLOW_TRACKING_USERNAME=pipeline" "MLFLOW_TRACKING_PASSWORD=$(random 24)"
write "$base/mlflow-serving.env" "MLFLOW_TRACKING_USERNAME=serving" "MLFLOW_TRACKING_PASSWORD=$(random 24)"
# The pipeline's copies, in its namespace, under the keys the pipeline reads (corridos/constants.py).
# Derived from the files above, so always rewritten.
pipeline=$k8s/pipeline-access/secrets
value() { sed -n "s/^$2=//p" "$base/$1"; }
printf 'access-key-id=%s\nsecret-access-key=%s\n' \
  "$(value s3.env AWS_ACCESS_KEY_ID)" "$(value s3.env AWS_SECRET_ACCESS_KEY)" >"$pipeline/s3.env"
printf 'username=%s\npassword=%s\n' \
  "$(value mlflow-pipeline.env MLFLOW_TRACKING_USERNAME)" "$(value mlflow-pipeline.env MLFLOW_TRACKING_PASSWORD)" >"$pipeline/mlflow.env"
echo "derived   $pipeline/s3.env $pipeline/mlflow.env"
