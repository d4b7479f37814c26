"""Record the scorecard corpus: ``.venv/bin/python tests/scoring/record_scorecards.py``.

Runs tests/scoring and tests/workflow with ``score()`` wrapped so every (scheme, entries) they
score is kept, adds the static cases of scorecard_corpus.py, and writes the inputs to
data/scorecard_cases.json and their scorecards' hashes to data/scorecard_hashes.json.
Run it on the engine whose behaviour is the reference (it was run before issue 10's rewrite).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import pytest  # noqa: E402
from scorecard_corpus import (  # noqa: E402
    CASES_FILE,
    HASHES_FILE,
    decode,
    digest,
    encode,
    grid_cases,
    scheme_build,
    scheme_data,
    static_cases,
)

import scoring  # noqa: E402
import scoring.cli  # noqa: E402
import scoring.engine  # noqa: E402
from scoring import Scheme  # noqa: E402

# Hypothesis draws thousands of inputs; a bounded share of them is plenty for the hashes.
MAX_CASES = 8000

schemes: dict[str, dict[str, Any]] = {}
cases: list[dict[str, Any]] = []
seen: dict[str, dict[str, Any]] = {}
skipped = {"unencodable": 0, "not_round_trip": 0, "over_cap": 0}


def _key(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def keep(name: str, scheme: Scheme, entries: Any) -> None:
    try:
        encoded = encode(dict(entries))
        data = scheme_data(scheme)
    except (TypeError, AttributeError):
        skipped["unencodable"] += 1
        return
    scheme_key = _key(data)
    case_key = scheme_key + _key(encoded)
    if case_key in seen:
        if name != "tests":  # a form the tests also score: name it by where it comes from
            seen[case_key]["name"] = name
        return
    if len(cases) >= MAX_CASES:
        skipped["over_cap"] += 1
        return
    # The stored case is rebuilt from its snapshot: it must score exactly as the original.
    if digest(scheme_build(data), entries) != digest(scheme, entries):
        skipped["not_round_trip"] += 1
        return
    case = {"name": name, "scheme": scheme_key, "entries": encoded}
    seen[case_key] = case
    schemes.setdefault(scheme_key, data)
    cases.append(case)


_original = scoring.engine.score
_recording = [False]


def recording_score(scheme: Scheme, entries: Any) -> Any:
    card = _original(scheme, entries)
    if not _recording[0]:
        _recording[0] = True
        try:
            keep("tests", scheme, entries)
        finally:
            _recording[0] = False
    return card


def main() -> int:
    for module in (scoring, scoring.engine, scoring.cli):
        module.score = recording_score  # type: ignore[attr-defined]
    code = pytest.main(
        [
            "-q",
            "-p",
            "no:cacheprovider",
            "-x",
            "--ignore",
            str(Path(__file__).with_name("test_scorecard_hashes.py")),
            str(ROOT / "tests/scoring"),
            str(ROOT / "tests/workflow"),
        ]
    )
    for module in (scoring, scoring.engine, scoring.cli):
        module.score = _original  # type: ignore[attr-defined]
    if code != 0:
        print("tests failed; nothing written", file=sys.stderr)
        return 1
    for name, scheme, entries in [*static_cases(), *grid_cases()]:
        keep(name, scheme, entries)
    CASES_FILE.write_text(
        json.dumps({"schemes": schemes, "cases": cases}, ensure_ascii=False, sort_keys=True) + "\n",
        "utf-8",
    )
    loaded = {key: scheme_build(value) for key, value in schemes.items()}

    hashes = [digest(loaded[case["scheme"]], decode(case["entries"])) for case in cases]
    HASHES_FILE.write_text(json.dumps(hashes, indent=0) + "\n", "utf-8")
    print(f"{len(cases)} cases, {len(schemes)} schemes; skipped {skipped}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
