"""MLOps: MLflow tracking, the registry and its promotion gate, the pyfunc packaging, running the KFP pipeline."""
