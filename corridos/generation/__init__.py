"""Generators: the Keras 3 model families, training, sampling and evaluation. Main environment."""
