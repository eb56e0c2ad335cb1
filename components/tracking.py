from kfp import dsl


def start_tracking(kfp_run_id: str, kfp_run_name: str, parameters: str) -> str:
    """Open the MLflow parent run of this pipeline run; every stage's run nests under it."""
    import json

    import mlflow

    from corridos.mlops import tracking

    tracking.configure()
    client = mlflow.MlflowClient()
    experiment = mlflow.get_experiment_by_name(tracking.EXPERIMENT)
    run = client.create_run(
        experiment.experiment_id,
        run_name=f"pipeline-{kfp_run_name}",
        tags={"kfp_run_id": kfp_run_id, "stage": "pipeline"},
    )
    for key, value in json.loads(parameters).items():
        client.log_param(run.info.run_id, key, value)
    return run.info.run_id


def finish_tracking(kfp_run_id: str, status: dsl.PipelineTaskFinalStatus):
    """Close the parent run with the pipeline's outcome (an exit task: it runs even when a stage
    failed, and may depend on no other task, so it finds the run by its KFP run id)."""
    import mlflow

    from corridos.mlops import tracking

    tracking.configure()
    outcome = "FINISHED" if status.state == "SUCCEEDED" else "FAILED"
    runs = mlflow.search_runs(
        experiment_names=[tracking.EXPERIMENT],
        output_format="list",
        filter_string=f"tags.kfp_run_id = '{kfp_run_id}' and tags.stage = 'pipeline'",
    )
    for run in runs:
        mlflow.MlflowClient().set_terminated(run.info.run_id, outcome)
