"""The Makefile's promises that a test can check without running the targets."""

import re
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def test_make_bench_runs_every_benchmark():
    makefile = (REPOSITORY / "Makefile").read_text()
    recipe = re.search(r"^bench:.*?\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no bench target"
    listed = set(re.findall(r"benchmarks/(\w+\.py)", recipe.group(1)))
    present = {path.name for path in (REPOSITORY / "benchmarks").glob("*.py")}
    assert listed == present
