"""The README's promises: the state diagram is the table's, the commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from workflow.machine import mermaid, targets_mermaid

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_state_diagram_is_generated_from_the_table() -> None:
    block = re.search(
        r"<!-- state-diagram:start -->\n```mermaid\n(.*?)\n```\n<!-- state-diagram:end -->",
        README,
        re.S,
    )
    assert block is not None
    assert block.group(1) == mermaid()


def test_targets_diagram_is_generated_from_its_table() -> None:
    block = re.search(
        r"<!-- targets-diagram:start -->\n```mermaid\n(.*?)\n```\n<!-- targets-diagram:end -->",
        README,
        re.S,
    )
    assert block is not None
    assert block.group(1) == targets_mermaid()


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in README and "make run" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:", makefile, re.M) and re.search(r"^run:", makefile, re.M)


def test_state_diagram_command_prints_both_diagrams(app: object) -> None:
    runner = app.test_cli_runner()  # type: ignore[attr-defined]
    assert runner.invoke(args=["state-diagram"]).output.strip() == mermaid()
    assert runner.invoke(args=["state-diagram", "--targets"]).output.strip() == targets_mermaid()


def test_layout_names_every_feature_package() -> None:
    # The README's layout section lists each feature as "name/"; a new or renamed package
    # that the section does not name, or a named one that is gone, fails here.
    section = README.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"(?:^ {4}|\s)([a-z]+)/\s", section, re.M))
    packages = {
        path.parent.name
        for path in (ROOT / "workflow").glob("*/__init__.py")
        if path.parent.name not in {"core", "models", "static"}
    }
    assert packages, "no feature packages found"
    assert packages - named == set()
