"""Every scorecard the tests use is the same as on the engine before issue 10's rewrite.

data/scorecard_cases.json holds the inputs (recorded by record_scorecards.py: what
tests/scoring and tests/workflow score, the shipped and shared forms, a grid of one-leaf
cases of every kind) and data/scorecard_hashes.json the SHA-256 of each canonical scorecard
(scores, explanations, inputs, flags, totals, grade, stage total) on the old engine.
"""

from __future__ import annotations

import json

from scorecard_corpus import HASHES_FILE, decode, digest, load_cases


def test_every_recorded_scorecard_is_unchanged() -> None:
    schemes, cases = load_cases()
    expected = json.loads(HASHES_FILE.read_text("utf-8"))
    assert len(cases) == len(expected) > 3000
    changed = [
        case["name"]
        for case, want in zip(cases, expected, strict=True)
        if digest(schemes[case["scheme"]], decode(case["entries"])) != want
    ]
    assert changed == []


def test_the_corpus_covers_every_source() -> None:
    _schemes, cases = load_cases()
    sources = {case["name"].split(":")[0] for case in cases}
    assert sources >= {"tests", "sample", "seeds", "forms", "builtin", "grid"}
