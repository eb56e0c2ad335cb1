"""Create (or reset the password of) MLflow users from USER_<NAME>=username:password variables.

The admin only bootstraps; the pipeline and the serving each get their own user. New users get
the server's default permission (READ); a user that creates an experiment or a registered model
manages it, so the pipeline can log and register while the serving can only read.
"""

import os
import time

import requests

uri = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
admin = (os.environ["MLFLOW_AUTH_ADMIN_USERNAME"], os.environ["MLFLOW_AUTH_ADMIN_PASSWORD"])
for _attempt in range(60):
    try:
        requests.get(f"{uri}/health", timeout=5).raise_for_status()
        break
    except requests.RequestException as error:
        print(f"waiting for MLflow: {error}", flush=True)
        time.sleep(5)
else:
    raise SystemExit("MLflow did not answer in 5 minutes")

for key, value in sorted(os.environ.items()):
    if not key.startswith("USER_"):
        continue
    username, password = value.split(":", 1)
    body = {"username": username, "password": password}
    created = requests.post(f"{uri}/api/2.0/mlflow/users/create", json=body, auth=admin, timeout=30)
    if created.ok:
        print(f"user {username}: created")
        continue
    if created.json().get("error_code") != "RESOURCE_ALREADY_EXISTS":
        raise SystemExit(f"user {username}: {created.status_code} {created.text}")
    requests.patch(f"{uri}/api/2.0/mlflow/users/update-password", json=body, auth=admin, timeout=30).raise_for_status()
    print(f"user {username}: exists, password set")
