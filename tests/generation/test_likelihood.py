import numpy as np
import pytest

from corridos.generation.likelihood import likelihood
from corridos.generation.models import ModelConfig
from corridos.symbolic.tokenizer import Vocabulary
from tests.helpers import line


def test_likelihood_of_a_uniform_model_is_the_vocabulary_size():
    vocabulary = Vocabulary()

    class Uniform:
        config = ModelConfig(context=16)

        def __call__(self, tokens):
            return np.zeros((*tokens.shape, vocabulary.size), np.float32)

    songs = {"a": vocabulary.encode_arrays(line([60, 62, 64] * 5)), "b": vocabulary.encode_arrays(line([70] * 3))}
    result = likelihood(Uniform(), vocabulary, songs)
    assert result["perplexity"] == pytest.approx(vocabulary.size)
    assert result["events"] == sum(len(s) for s in songs.values())
    assert result["notes"] == 18
    assert result["bits_per_note"] == pytest.approx(result["events"] * np.log2(vocabulary.size) / 18)
