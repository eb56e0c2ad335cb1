#!/bin/sh
# Files a job never reads, removed from an installed virtual environment (argument: its path), to
# keep the images in their size budgets (measured in the serving image):
# - music21's corpus: 66 MB of classical scores; key analysis and the tab writers never read them
#   (the images' smoke tests build a dataset with keys and write a tab);
# - the packages' own test suites (pandas, scipy, numpy, ...: 61 MB), never imported at run time.
set -eu
site=$(echo "$1"/lib/python3*/site-packages)
if [ -d "$site/music21/corpus" ]; then
  find "$site/music21/corpus" -mindepth 1 -maxdepth 1 -type d ! -name __pycache__ -exec rm -rf {} +
fi
find "$site" -mindepth 2 -type d -name tests -prune -exec rm -rf {} +
