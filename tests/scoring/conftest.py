"""Fixtures for the pure scoring tests: shipped samples and small hand-made schemes."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from scoring import import_form


def sample_path(name: str) -> Path:
    return Path(str(resources.files("scoring").joinpath("samples", name)))


@pytest.fixture(scope="session")
def seed_path() -> Path:
    return sample_path("jiangsu_2022_seed.tsv")


@pytest.fixture(scope="session")
def central_path() -> Path:
    return sample_path("central_sample.tsv")


@pytest.fixture(scope="session")
def seed_import(seed_path: Path) -> Any:
    return import_form(seed_path)
