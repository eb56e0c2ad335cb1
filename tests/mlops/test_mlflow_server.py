"""The tracking path end to end against a real MLflow server: runs and the registry land in
PostgreSQL, artifacts in S3, with no S3 credentials on the client side (proxied artifacts)."""

import boto3
import mlflow
import psycopg2
import pytest

from corridos.mlops import tracking

pytestmark = pytest.mark.slow

MODEL = "mlflow-server-test"


class Constant(mlflow.pyfunc.PythonModel):
    def predict(self, model_input: list[list[int]], params=None) -> list[int]:
        return [1] * len(model_input)


def test_run_model_and_alias_reach_postgres_and_s3(mlflow_server, monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)  # the server holds the S3 credentials, not the client
    assert tracking.configure("mlflow-server-test") == mlflow_server.url

    (tmp_path / "notes.txt").write_text("hello from the test")
    with mlflow.start_run() as run:
        mlflow.log_param("layers", 2)
        mlflow.log_metric("loss", 0.5)
        mlflow.log_artifact(str(tmp_path / "notes.txt"))
        # pip_requirements given: inferring them loads the model in a subprocess, seconds for nothing
        model = mlflow.pyfunc.log_model(
            name="model", python_model=Constant(), pip_requirements=["mlflow"], registered_model_name=MODEL
        )
    client = mlflow.MlflowClient()
    version = model.registered_model_version
    client.set_registered_model_alias(MODEL, "champion", version)
    assert client.get_model_version_by_alias(MODEL, "champion").run_id == run.info.run_id
    assert mlflow.pyfunc.load_model(f"models:/{MODEL}@champion").predict([[0], [0]]) == [1, 1]

    with psycopg2.connect(mlflow_server.database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_uuid = %s", (run.info.run_id,))
        assert cursor.fetchall() == [("FINISHED",)]
        cursor.execute("SELECT value FROM params WHERE run_uuid = %s AND key = 'layers'", (run.info.run_id,))
        assert cursor.fetchall() == [("2",)]
        cursor.execute("SELECT alias, version FROM registered_model_aliases WHERE name = %s", (MODEL,))
        assert cursor.fetchall() == [("champion", int(version))]
    connection.close()  # `with` on a psycopg2 connection ends the transaction, it does not close

    s3 = mlflow_server.s3
    listing = boto3.client(
        "s3",
        endpoint_url=s3.url,
        region_name="us-east-1",
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
    ).list_objects_v2(Bucket=mlflow_server.bucket, Prefix=f"{mlflow_server.prefix}/")
    keys = [item["Key"] for item in listing.get("Contents", [])]
    experiment = run.info.experiment_id
    assert f"{mlflow_server.prefix}/{experiment}/{run.info.run_id}/artifacts/notes.txt" in keys
    assert any(
        key.startswith(f"{mlflow_server.prefix}/{experiment}/models/") and key.endswith("/MLmodel") for key in keys
    )
