import numpy as np
import pytest

from corridos.errors import ConfigError
from corridos.generation.markov import MarkovChain
from corridos.symbolic.tokenizer import BOS, Vocabulary


def test_transition_probabilities_and_back_off():
    songs = [np.array(s) for s in ([5, 6, 7, 9], [5, 6, 7, 9], [5, 6, 7, 9], [5, 6, 8, 9])]
    chain = MarkovChain.fit(songs, order=2)
    tokens, probabilities = chain.probabilities((5, 6))
    assert dict(zip(tokens.tolist(), probabilities)) == pytest.approx({7: 0.75, 8: 0.25})
    assert chain.probabilities((BOS, BOS))[0].tolist() == [5]
    # (7, 9) and (9,) only end songs: the overall token frequencies follow
    tokens, probabilities = chain.probabilities((7, 9))
    assert dict(zip(tokens.tolist(), probabilities)) == pytest.approx(
        {5: 4 / 16, 6: 4 / 16, 7: 3 / 16, 8: 1 / 16, 9: 4 / 16}
    )


def test_generated_pieces_follow_the_counts_and_last_the_seconds_asked():
    vocabulary = Vocabulary()
    tenth = vocabulary.shift(3)  # 3 frames: 0.096 s

    def note(pitch: int) -> list[int]:
        return [vocabulary.note_on(pitch), tenth, vocabulary.note_off(pitch)]

    # after 60: 62 three times in four, else 64; both go back to 60
    phrase = note(60) + note(62) + note(60) + note(62) + note(60) + note(62) + note(60) + note(64)
    chain = MarkovChain.fit([np.array(phrase * 20)], order=2)
    pieces = chain.generate(vocabulary, seconds=60, count=2, seed=1)
    after_60 = np.concatenate([p.pitch[1:][p.pitch[:-1] == 60] for p in pieces])  # within each piece
    assert len(after_60) > 500
    assert np.mean(after_60 == 62) == pytest.approx(0.75, abs=0.05)
    assert set(after_60.tolist()) == {62, 64}
    assert all(p.end.max() == pytest.approx(60, abs=0.11) for p in pieces)
    again = chain.generate(vocabulary, seconds=60, count=2, seed=1)
    assert all(np.array_equal(a.pitch, b.pitch) for a, b in zip(pieces, again))


def test_refuses_what_it_cannot_count():
    with pytest.raises(ConfigError, match="at least one song"):
        MarkovChain.fit([np.array([], np.int32)])
    with pytest.raises(ConfigError, match="order 0"):
        MarkovChain.fit([np.array([5, 6])], order=0)
