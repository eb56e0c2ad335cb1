from corridos.cli.pipeline import _arguments


def test_a_mapping_given_with_arg_reaches_the_pipeline_as_json_text():
    arguments = _arguments("corpus/", ['dataset_config={"split": {"by": "artist"}}', "preset=tiny", "seed=3"])
    assert arguments == {
        "corpus_uri": "corpus/",
        "dataset_config": '{"split": {"by": "artist"}}',
        "preset": "tiny",
        "seed": 3,
    }
