"""No module over 600 lines outside tests, none over 500 in scoring (the house rules of the
layout: a module that grows past them is doing two things and is split by concern)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMITS = {"scoring": 500, "workflow": 600, "bench": 600, "migrations": 600}
TOP_LEVEL = ("wsgi.py", "celeryconfig.py")


def modules_of(root: Path) -> list[tuple[Path, int]]:
    found = [(root / name, 600) for name in TOP_LEVEL if (root / name).exists()]
    for folder, limit in LIMITS.items():
        found.extend((path, limit) for path in sorted((root / folder).rglob("*.py")))
    return found


def oversized(root: Path) -> dict[str, int]:
    sizes = {}
    for path, limit in modules_of(root):
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > limit:
            sizes[str(path.relative_to(root))] = count
    return sizes


def test_no_module_is_over_its_limit() -> None:
    assert len(modules_of(ROOT)) > 50, "the walk found too few modules: it would pass vacuously"
    assert oversized(ROOT) == {}


@pytest.mark.parametrize(
    "folder,lines,over",
    [
        ("scoring", 500, False),
        ("scoring", 501, True),
        ("workflow", 600, False),
        ("bench", 601, True),
    ],
)
def test_the_limit_check_can_fail(tmp_path: Path, folder: str, lines: int, over: bool) -> None:
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "big.py").write_text("x = 1\n" * lines, encoding="utf-8")
    assert oversized(tmp_path) == ({f"{folder}/big.py": lines} if over else {})
