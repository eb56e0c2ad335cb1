"""Audio: files and manifests, metrics, rendering (main env) and the models that hear (audio env).

Two environments meet here (README, "Two Python environments"):
- main env: `io`, `metrics`, `synthesis`, `bridge` (runs an audio-env function across the process
  boundary) and `stages` (the audio stages as main-env functions);
- audio env only (TensorFlow 2.12): `separation` (Spleeter) and `transcription` (Basic Pitch).
  Nothing in the main env imports them; `stages` calls them through `bridge`.
"""
