"""Create the S3 buckets named in $S3_BUCKETS if missing; waits for the store to answer."""

import os
import time

import boto3
from botocore.exceptions import BotoCoreError, ClientError

s3 = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])
for _attempt in range(60):
    try:
        existing = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
        break
    except (BotoCoreError, ClientError) as error:
        print(f"waiting for S3: {error}", flush=True)
        time.sleep(5)
else:
    raise SystemExit("S3 did not answer in 5 minutes")
for name in os.environ["S3_BUCKETS"].split():
    if name in existing:
        print(f"bucket {name}: exists")
    else:
        s3.create_bucket(Bucket=name)
        print(f"bucket {name}: created")
