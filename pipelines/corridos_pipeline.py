"""The corridos pipeline: recordings and MIDI in, a registered generator (maybe the champion) out.

    ingest -> prepare separator -> [separate -> transcribe] per chunk of songs -> dataset
           -> train -> evaluate -> register and promote

One definition for both worlds: `corridos pipeline run` runs it with kfp.local; `corridos
pipeline compile` writes the IR YAML a KFP cluster runs, where the settings below (images, GPUs,
node pools, retries, secrets, caching) take effect. Local runs ignore them.
"""

from collections.abc import Callable

from kfp import dsl, kubernetes

from components import audio, model, symbolic, tracking
from corridos.mlops.cluster import CONFIG_MAP, GPU_NODE_LABEL, MLFLOW_SECRET, REGISTERED_MODEL_NAME, S3_SECRET, Images

PIPELINE_NAME = "corridos"


def _cluster_settings(
    task: dsl.PipelineTask, cpu: str, memory: str, gpu: bool = False, retries: int = 0
) -> dsl.PipelineTask:
    """Resources, credentials and placement of one step in the cluster."""
    task.set_cpu_request(cpu).set_cpu_limit(cpu).set_memory_request(memory).set_memory_limit(memory)
    kubernetes.use_config_map_as_env(
        task, CONFIG_MAP, {"mlflow-tracking-uri": "MLFLOW_TRACKING_URI", "s3-endpoint-url": "MLFLOW_S3_ENDPOINT_URL"}
    )
    kubernetes.use_secret_as_env(
        task, S3_SECRET, {"access-key-id": "AWS_ACCESS_KEY_ID", "secret-access-key": "AWS_SECRET_ACCESS_KEY"}
    )
    kubernetes.use_secret_as_env(
        task, MLFLOW_SECRET, {"username": "MLFLOW_TRACKING_USERNAME", "password": "MLFLOW_TRACKING_PASSWORD"}
    )
    if gpu:
        task.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)
        kubernetes.add_node_selector(task, *GPU_NODE_LABEL)
        kubernetes.add_toleration(task, key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")
        task.set_env_variable("KERAS_BACKEND", "jax")
    if retries:
        # flaky steps (object-store and registry I/O, preemptible GPU nodes) get retried
        task.set_retry(num_retries=retries, backoff_duration="30s", backoff_factor=2.0)
    return task


def _in_image(image: str, step: Callable) -> Callable:
    """A step as a KFP lightweight component that runs in `image` (which holds kfp: no pip step)."""
    return dsl.component(step, base_image=image, install_kfp_package=False)


def corridos_pipeline_for(images: Images) -> Callable:
    """The pipeline with its steps in `images`. KFP fixes a component's image when the component is
    made, so each set of images makes its own components."""
    start_tracking = _in_image(images.light, tracking.start_tracking)
    finish_tracking = _in_image(images.light, tracking.finish_tracking)
    ingest = _in_image(images.light, audio.ingest)
    prepare_separator = _in_image(images.audio, audio.prepare_separator)
    separate = _in_image(images.audio, audio.separate)
    transcribe = _in_image(images.audio, audio.transcribe)
    build_dataset = _in_image(images.light, symbolic.build_dataset)
    train = _in_image(images.train, model.train)
    evaluate = _in_image(images.train, model.evaluate)
    register_and_promote = _in_image(images.light, model.register_and_promote)

    @dsl.pipeline(name=PIPELINE_NAME, description="Recordings and MIDI -> requinto dataset -> generator -> champion")
    def corridos_pipeline(
        corpus_uri: str,
        audio_uri: str = "",
        synthetic_songs: int = 4,
        # MixtureConfig fields (dotted) for the rendered songs, e.g. {"excerpts_per_song": 4}
        mixture_config: str = "{}",
        separator_uri: str = "",
        # Without separator_uri a separator of this preset is trained on the rendered mixtures, on
        # a GPU node; `separator_overrides` sets SeparatorTrainingConfig fields, e.g. {"steps": 60}.
        separator_preset: str = "gpu",
        separator_overrides: str = "{}",
        fan_out: int = 2,
        dataset_config: str = "{}",
        model_family: str = "transformer",
        # The GPU preset: the steps that train and evaluate run on a GPU node (KERAS_BACKEND=jax).
        # `make demo` and the tests pass preset=tiny for a CPU.
        preset: str = "base",
        train_overrides: str = "{}",
        evaluation_samples: int = 8,
        promotion_margin: float = 0.05,
        model_name: str = REGISTERED_MODEL_NAME,
        seed: int = 0,
    ):
        # KFP fills the run's parameter values into this string when the step runs
        parameters = f'{{"corpus_uri": "{corpus_uri}", "model_family": "{model_family}", "preset": "{preset}"}}'
        finish = finish_tracking(kfp_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER)
        with dsl.ExitHandler(_cluster_settings(finish, "500m", "1Gi", retries=3)):
            start = _cluster_settings(
                start_tracking(
                    kfp_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                    kfp_run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                    parameters=parameters,
                ),
                "500m",
                "1Gi",
                retries=3,
            )
            start.set_caching_options(False)  # a new parent run for every pipeline run
            parent = start.output
            gathered = _cluster_settings(
                ingest(
                    audio_uri=audio_uri,
                    corpus_uri=corpus_uri,
                    synthetic_songs=synthetic_songs,
                    mixture_config=mixture_config,
                    chunks=fan_out,
                    seed=seed,
                ),
                "1",
                "2Gi",
                retries=2,
            )
            separator = _cluster_settings(
                prepare_separator(
                    separator_uri=separator_uri,
                    mixtures=gathered.outputs["audio"],
                    preset=separator_preset,
                    overrides=separator_overrides,
                ),
                "2",
                "8Gi",
                gpu=True,
                retries=1,
            )
            with dsl.ParallelFor(gathered.outputs["Output"], parallelism=4) as chunk:
                stems = _cluster_settings(
                    separate(audio=gathered.outputs["audio"], names=chunk, separator=separator.outputs["separator"]),
                    "2",
                    "8Gi",
                    gpu=True,
                    retries=1,
                )
                midi = _cluster_settings(transcribe(stems=stems.outputs["stems"]), "2", "4Gi", retries=1)
            dataset = _cluster_settings(
                build_dataset(
                    corpus_uri=corpus_uri,
                    transcriptions=dsl.Collected(midi.outputs["midi"]),
                    config=dataset_config,
                    parent_run_id=parent,
                ),
                "2",
                "4Gi",
                retries=2,
            )
            trained = _cluster_settings(
                train(
                    dataset=dataset.outputs["dataset"],
                    family=model_family,
                    preset=preset,
                    overrides=train_overrides,
                    parent_run_id=parent,
                ),
                "4",
                "16Gi",
                gpu=True,
                retries=1,
            )
            trained.set_caching_options(False)  # each run trains and logs a new model version
            evaluated = _cluster_settings(
                evaluate(
                    dataset=dataset.outputs["dataset"],
                    model=trained.outputs["model"],
                    family=model_family,
                    samples=evaluation_samples,
                    parent_run_id=parent,
                ),
                "4",
                "16Gi",
                gpu=True,
                retries=1,
            )
            promoted = _cluster_settings(
                register_and_promote(
                    run_id=trained.outputs["Output"],
                    dataset=dataset.outputs["dataset"],
                    margin_bits_per_note=promotion_margin,
                    model_name=model_name,
                    parent_run_id=parent,
                ),
                "2",
                "4Gi",
                retries=2,
            )
            promoted.after(evaluated)
            promoted.set_caching_options(False)

    return corridos_pipeline


# In the default images (local runs ignore images).
corridos_pipeline = corridos_pipeline_for(Images())
