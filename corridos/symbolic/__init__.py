"""Symbolic music: NoteSequences, cleaning, duplicates, splits, tokens, piano rolls, the dataset stage.

Main environment only."""
