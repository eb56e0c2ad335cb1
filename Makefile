# Every target installs what it needs (uv, Debian packages, both Python environments) and is
# idempotent: a second run only checks and skips.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
UV := .tools/bin/uv
MAIN_ENV := .venv
AUDIO_ENV := .venv-audio
APT_PACKAGES := fluidsynth fluid-soundfont-gm musescore-general-soundfont-lossless timgm6mb-soundfont opl3-soundfont ffmpeg radosgw ceph-mon ceph-osd postgresql chromium
CORPUS ?= ../shared/datasets/corridos-midi
RUNS ?= runs
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: help setup system envs demo test bench lock clean lint lint-baseline

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: system envs k8s-tools  ## install everything: Debian packages, uv, the main and audio environments, the manifest tools

# Installs the Debian packages named in $(1) that are missing; quiet when none are.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

system:  ## Debian packages: fluidsynth, the SoundFonts (corridos/audio/soundfonts.py), ffmpeg; Ceph's S3 gateway, PostgreSQL and chromium for tests
	$(call apt_install,$(APT_PACKAGES))

$(UV):
	python3 -m venv .tools
	.tools/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)

envs: $(UV)  ## the two Python environments, from the committed lock
	@$(UV) sync -q --frozen --extra main
	@UV_PROJECT_ENVIRONMENT=$(AUDIO_ENV) $(UV) sync -q --frozen --extra audio --no-dev

lock: $(UV)  ## re-resolve uv.lock after editing pyproject.toml
	$(UV) lock

DEMO := $(RUNS)/demo
DEMO_LOGS := $(DEMO)/logs
OTHER_FAMILIES := lstm wavenet
LATEST_RUN = $$(ls -td $(RUNS)/pipeline/corridos-* | head -1)
# a demo step: its output goes to $(DEMO_LOGS)/NAME.log, one line to the console
DEMO_STEP = $(MAIN_ENV)/bin/corridos demo step --logs $(DEMO_LOGS)
# the demo's datasets are split by artist, as the released model's: its validation artists are unseen
ARTIST_SPLIT := 'dataset_config={"split": {"by": "artist"}}'
demo: setup demo-audio  ## the main job: audio stages, the released champion, the whole pipeline run locally facing it, families compared, a piece served
	@$(DEMO_STEP) dataset -- $(MAIN_ENV)/bin/corridos dataset build $(abspath $(CORPUS)) --split-by artist --out $(DEMO)/dataset
	@$(DEMO_STEP) release-champion -- $(MAIN_ENV)/bin/corridos release register $(RELEASE) --dataset $(DEMO)/dataset
	@echo "  $$(tail -n 1 $(DEMO_LOGS)/release-champion.log)"
	@$(MAIN_ENV)/bin/corridos pipeline run --corpus $(abspath $(CORPUS)) --runs $(RUNS) \
	  --arg separator_uri=$(abspath $(DEMO_AUDIO))/separator --arg synthetic_songs=4 --arg model_family=transformer \
	  --arg preset=tiny --arg $(ARTIST_SPLIT)
	@set -e; run=$(LATEST_RUN); dataset=$$run/build-dataset/dataset; \
	for family in $(OTHER_FAMILIES); do \
	  $(DEMO_STEP) train-$$family -- \
	    $(MAIN_ENV)/bin/corridos train $$dataset --family $$family --preset tiny --out $(DEMO)/train/$$family; \
	done; \
	$(DEMO_STEP) evaluate-families -- $(MAIN_ENV)/bin/corridos evaluate $$dataset --out $(DEMO)/evaluation \
	  --model transformer=$$run/train/model/model $(foreach f,$(OTHER_FAMILIES),--model $(f)=$(DEMO)/train/$(f)/model); \
	$(DEMO_STEP) generate -- \
	  $(MAIN_ENV)/bin/corridos generate models:/corridos-generator@champion --out $(DEMO)/generated --seconds 30 --top-k 40; \
	$(DEMO_STEP) serve -- $(MAIN_ENV)/bin/python serving/demo_call.py --out $(DEMO)/served; \
	$(MAIN_ENV)/bin/corridos demo summary --pipeline-run $$run --audio-evaluation $(DEMO_AUDIO)/evaluation/evaluation.json \
	  --report $(DEMO)/evaluation/report.json --samples $(DEMO)/generated --served $(DEMO)/served --logs $(DEMO_LOGS)
	@echo "MLflow UI: $(MAIN_ENV)/bin/mlflow ui --backend-store-uri sqlite:///$(abspath $(RUNS))/mlflow.db  (then open http://127.0.0.1:5000)"

RELEASE := models/released
RELEASE_WORK := $(RUNS)/release
.PHONY: release-model
release-model: envs  ## train the released generator (preset cpu, seeded) on the artist-split corpus, evaluate it, write $(RELEASE) with its card
	$(MAIN_ENV)/bin/corridos dataset build $(abspath $(CORPUS)) --split-by artist --out $(RELEASE_WORK)/dataset
	$(MAIN_ENV)/bin/corridos release build $(RELEASE_WORK)/dataset --preset cpu --work $(RELEASE_WORK) --out $(RELEASE)

# issue 11's 3,000-step recipe for each family, on the release's dataset; then the card re-scored
# with their rows (the release itself is not retrained)
FAMILIES_RECIPE := --preset tiny --set epochs=30 --set steps_per_epoch=100 --set patience=5 --no-mlflow

.PHONY: release-families
release-families: envs  ## train each family with issue 11's 3,000-step tiny recipe on the release's dataset, then re-score $(RELEASE)'s card beside them
	@test -f $(RELEASE_WORK)/dataset/manifest.json || { echo "no $(RELEASE_WORK)/dataset: run make release-model first"; exit 1; }
	for family in lstm wavenet transformer; do \
		$(MAIN_ENV)/bin/corridos train $(RELEASE_WORK)/dataset --family $$family $(FAMILIES_RECIPE) --out $(RELEASE_WORK)/families/$$family || exit 1; \
	done
	$(MAIN_ENV)/bin/corridos release score $(RELEASE) --dataset $(RELEASE_WORK)/dataset --work $(RELEASE_WORK)/scored \
		$(foreach family,lstm wavenet transformer,--compare tiny-$(family)=$(RELEASE_WORK)/families/$(family)/model)

test: setup lint  ## the code gates, then the test suite
	$(MAIN_ENV)/bin/python -m pytest -q --durations=15

lint: envs  ## ruff (lint and format), then mypy on corridos/ against its shrinking baseline
	$(MAIN_ENV)/bin/ruff check -q .
	$(MAIN_ENV)/bin/ruff format -q --check .
	@$(MAIN_ENV)/bin/mypy | $(MAIN_ENV)/bin/mypy-baseline filter

lint-baseline: envs  ## after fixing type errors: rewrite mypy-baseline.txt to what is left
	$(MAIN_ENV)/bin/mypy | $(MAIN_ENV)/bin/mypy-baseline sync

# Every script in benchmarks/ (tests/test_makefile.py checks that none is left out of this list).
bench: setup  ## every benchmark in benchmarks/ (serving, sampling's 30 s figure, the tabs of generated pieces and the key match use the demo's champion); each prints its figures
	$(MAIN_ENV)/bin/python benchmarks/dataset_build.py --corpus $(CORPUS)
	$(MAIN_ENV)/bin/python benchmarks/training.py
	$(MAIN_ENV)/bin/python benchmarks/sampling.py
	$(MAIN_ENV)/bin/python benchmarks/audio.py --corpus $(CORPUS)
	$(AUDIO_ENV)/bin/python benchmarks/separator.py --presets tiny,cpu
	$(MAIN_ENV)/bin/python benchmarks/service_load.py
	$(MAIN_ENV)/bin/python benchmarks/tablature.py --corpus $(CORPUS)
	$(MAIN_ENV)/bin/corridos dataset build $(CORPUS) --split-by artist --out $(RUNS)/datasets/by-artist >/dev/null
	$(MAIN_ENV)/bin/python benchmarks/quality.py --dataset $(RUNS)/datasets/by-artist --model released=$(RELEASE)
	$(MAIN_ENV)/bin/python benchmarks/sampling_settings.py $(RUNS)/datasets/by-artist --model $(RELEASE)
	MLFLOW_TRACKING_URI=sqlite:///$(abspath $(RUNS))/mlflow.db $(MAIN_ENV)/bin/python benchmarks/key_match.py models:/corridos-generator@champion

clean:  ## remove environments and local runs
	rm -rf $(MAIN_ENV) $(AUDIO_ENV) .tools $(RUNS)

.PHONY: demo-audio
DEMO_AUDIO := $(RUNS)/demo/audio
demo-audio: setup  ## the audio stages on synthetic mixtures: render, train a tiny separator, separate, transcribe, score
	@rm -rf $(DEMO_AUDIO)
	@$(DEMO_STEP) audio-render -- $(MAIN_ENV)/bin/corridos audio render $(CORPUS) --out $(DEMO_AUDIO)/mixtures --songs 8
	@$(DEMO_STEP) audio-train-separator -- \
	  $(MAIN_ENV)/bin/corridos audio train-separator $(DEMO_AUDIO)/mixtures --model-dir $(DEMO_AUDIO)/separator --set steps=60
	@$(DEMO_STEP) audio-evaluate -- \
	  $(MAIN_ENV)/bin/corridos audio evaluate $(DEMO_AUDIO)/mixtures --model $(DEMO_AUDIO)/separator --out $(DEMO_AUDIO)/evaluation

# The separator presets beyond the demo's tiny one (corridos/audio/separation.py PRESETS): each
# renders its own mixtures with random effects (corridos/audio/augmentation.py), trains on those of
# the training fonts, and scores those of the held-out font (split test: other songs, never heard
# in training); logs in $(RUNS)/separator-<preset>/logs. A finished step is skipped.
# A song that draws the held-out font (about 4 in 10) renders one mixture, in the test split,
# scored; every other song renders SEPARATOR_EXCERPTS_* excerpts for training and validation.
SEPARATOR_SONGS_cpu := 200
SEPARATOR_SONGS_gpu := 200
SEPARATOR_EXCERPTS_cpu := 4
SEPARATOR_EXCERPTS_gpu := 8
SEPARATOR_SECONDS_cpu := 12
SEPARATOR_SECONDS_gpu := 24
# Extra training settings, e.g. SEPARATOR_SET="--set steps=20" SEPARATOR_SONGS_cpu=6 for a smoke run.
SEPARATOR_SET ?=
SEPARATOR_STEP = $(MAIN_ENV)/bin/corridos demo step --logs $(RUNS)/separator-$*/logs
.PHONY: separator-cpu separator-gpu
.PRECIOUS: $(RUNS)/separator-%/mixtures/mixtures.json $(RUNS)/separator-%/separator/training.json
separator-cpu: setup $(RUNS)/separator-cpu/evaluation/evaluation.json  ## train and score the 2-core separator preset (about an hour)
separator-gpu: setup $(RUNS)/separator-gpu/evaluation/evaluation.json  ## train and score the GPU-node separator preset (Spleeter's full size)

$(RUNS)/separator-%/mixtures/mixtures.json:
	@rm -rf $(RUNS)/separator-$*/mixtures
	@$(SEPARATOR_STEP) render -- $(MAIN_ENV)/bin/corridos audio render $(CORPUS) --out $(RUNS)/separator-$*/mixtures \
	  --songs $(SEPARATOR_SONGS_$*) --held-out --set seconds=$(SEPARATOR_SECONDS_$*) --set augmentation.enabled=true \
	  --set excerpts_per_song=$(SEPARATOR_EXCERPTS_$*)

$(RUNS)/separator-%/separator/training.json: $(RUNS)/separator-%/mixtures/mixtures.json
	@rm -rf $(RUNS)/separator-$*/separator
	@$(SEPARATOR_STEP) train -- $(MAIN_ENV)/bin/corridos audio train-separator $(RUNS)/separator-$*/mixtures \
	  --model-dir $(RUNS)/separator-$*/separator --preset $* $(SEPARATOR_SET)

$(RUNS)/separator-%/evaluation/evaluation.json: $(RUNS)/separator-%/separator/training.json
	@$(SEPARATOR_STEP) evaluate -- $(MAIN_ENV)/bin/corridos audio evaluate $(RUNS)/separator-$*/mixtures \
	  --model $(RUNS)/separator-$*/separator --out $(RUNS)/separator-$*/evaluation --split test
	@tail -n 4 $(RUNS)/separator-$*/logs/evaluate.log

.PHONY: k8s-tools k8s-secrets image-system images test-images
K8S_TOOLS := k8s/tools
IMAGES ?= audio light train serving
k8s-tools: $(UV)  ## the manifest tools (kubectl, kubernetes-validate, checkov) in their own env, from k8s/tools/uv.lock
	@$(UV) sync -q --frozen --project $(K8S_TOOLS)

k8s-secrets:  ## random credentials for the cluster, into git-ignored k8s/*/secrets/ (kept if present)
	k8s/secrets.sh

IMAGE_APT_PACKAGES := debootstrap docker.io
image-system:  ## Debian packages the image builds need (debootstrap, Docker)
	$(call apt_install,$(IMAGE_APT_PACKAGES))

# Where the images are pushed and their tag: REGISTRY/corridos-<job>:TAG. Unset, the defaults in
# corridos/mlops/cluster.py (or $CORRIDOS_IMAGE_REGISTRY/$CORRIDOS_IMAGE_TAG) name them, as for
# `corridos pipeline compile|submit --image-registry --image-tag`.
IMAGE_NAMES = $(if $(IMAGE_REGISTRY),CORRIDOS_IMAGE_REGISTRY=$(IMAGE_REGISTRY)) $(if $(IMAGE_TAG),CORRIDOS_IMAGE_TAG=$(IMAGE_TAG))
images: image-system  ## build the container images with Docker (IMAGES="audio light train serving", IMAGE_REGISTRY=, IMAGE_TAG=); starts dockerd if needed
	$(IMAGE_NAMES) docker/build.sh $(IMAGES)

test-images: images  ## build the images, then run a smoke test in each and print its size
	$(IMAGE_NAMES) CORPUS=$(CORPUS) docker/smoke.sh $(IMAGES)

.PHONY: serve
SERVE_PORT ?= 3000
serve: setup  ## the generation service on 127.0.0.1 (SERVE_PORT, default 3000): the champion of the local MLflow store (or MLFLOW_TRACKING_URI's)
	MLFLOW_TRACKING_URI=$${MLFLOW_TRACKING_URI:-sqlite:///$(abspath $(RUNS))/mlflow.db} \
	  $(MAIN_ENV)/bin/bentoml serve serving.service:Corridos --host 127.0.0.1 --port $(SERVE_PORT)
