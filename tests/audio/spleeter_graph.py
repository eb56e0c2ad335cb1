"""Run in the AUDIO env by tests/audio/test_separator_presets.py: for each params JSON named in
argv, builds Spleeter's training graph (its own model_fn in TRAIN mode: U-Net, loss, optimizer)
and prints {file stem: trainable parameters} as JSON. Nothing is trained. One process for all of
them: importing TensorFlow is most of the time."""

import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from spleeter.model import model_fn


def parameters(params: dict) -> int:
    with tf.Graph().as_default():
        shape = (params["batch_size"], params["T"], params["F"], params["n_channels"])
        features = {f"{params['mix_name']}_spectrogram": tf.compat.v1.placeholder(tf.float32, shape)}
        labels = {f"{i}_spectrogram": tf.compat.v1.placeholder(tf.float32, shape) for i in params["instrument_list"]}
        model_fn(features, labels, tf.estimator.ModeKeys.TRAIN, params)
        return sum(int(np.prod(v.shape)) for v in tf.compat.v1.trainable_variables())


print(json.dumps({Path(path).stem: parameters(json.loads(Path(path).read_text())) for path in sys.argv[1:]}))
