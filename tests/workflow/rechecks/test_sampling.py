"""Sampling (抽样) properties: seeded reproducibility, order independence, sizes, stratum
proportions, and that a risk-weighted sample finds inflated self-scores far more often than
a uniform one."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.rechecks import risk, sampling
from workflow.rechecks.sampling import Candidate

candidates_st = st.lists(
    st.builds(
        Candidate,
        id=st.integers(1, 10**6),
        department_id=st.integers(1, 6),
        grade=st.sampled_from(["优", "良", "中", "差"]),
        weight=st.floats(0.5, 30),
    ),
    min_size=1,
    max_size=300,
    unique_by=lambda c: c.id,
)
methods_st = st.sampled_from(sorted(sampling.METHODS))


@given(candidates_st, methods_st, st.integers(0, 2**40), st.floats(0.01, 1.0), st.randoms())
@settings(max_examples=80, deadline=None)
def test_same_seed_same_sample_in_any_order(pool, method, seed, rate, rnd) -> None:
    first = sampling.draw(pool, method, seed, rate=rate)
    shuffled = list(pool)
    rnd.shuffle(shuffled)
    assert sampling.draw(shuffled, method, seed, rate=rate) == first
    assert len(first) == sampling.sample_size(len(pool), rate=rate)
    assert len(set(first)) == len(first)
    assert set(first) <= {c.id for c in pool}


@given(candidates_st, methods_st, st.integers(1, 400))
@settings(max_examples=50, deadline=None)
def test_a_count_is_the_size_up_to_the_population(pool, method, count) -> None:
    assert len(sampling.draw(pool, method, 7, count=count)) == min(count, len(pool))


def test_another_seed_gives_another_sample() -> None:
    pool = [Candidate(i) for i in range(1000)]
    assert sampling.draw(pool, "uniform", 1, rate=0.05) != sampling.draw(
        pool, "uniform", 2, rate=0.05
    )


@given(candidates_st, st.sampled_from(["department", "grade"]), st.floats(0.05, 1.0))
@settings(max_examples=80, deadline=None)
def test_strata_keep_their_proportions(pool, method, rate) -> None:
    """Proportional allocation: each stratum gets its share of the sample, within one."""
    key = (lambda c: c.department_id) if method == "department" else (lambda c: c.grade)
    chosen = set(sampling.draw(pool, method, 11, rate=rate))
    n = len(chosen)
    sizes = Counter(key(c) for c in pool)
    got = Counter(key(c) for c in pool if c.id in chosen)
    for stratum, size in sizes.items():
        assert abs(got[stratum] - n * size / len(pool)) < 1 + 1e-9, (stratum, got, sizes)


@pytest.mark.parametrize(
    ("sizes", "n", "expected"),
    [([5, 5], 3, [2, 1]), ([1, 1, 1], 2, [1, 1, 0]), ([10, 0, 30], 4, [1, 0, 3]), ([2], 5, [2])],
)
def test_allocate(sizes, n, expected) -> None:
    assert sampling.allocate(sizes, n) == expected


def test_bad_sizes_are_refused_in_chinese() -> None:
    for kwargs in ({"rate": 0.0}, {"rate": 1.5}, {"count": 0}, {}, {"rate": 0.1, "count": 3}):
        with pytest.raises(sampling.SamplingError, match="[\u4e00-\u9fff]"):
            sampling.sample_size(10, **kwargs)


def _synthetic(seed: int) -> tuple[list[Candidate], set[int]]:
    """1,000 evaluations of six departments; 10% inflated: self total 5 or more above the
    department's review total. Weights from the real rules and the default boost."""
    rnd = random.Random(f"synthetic-{seed}")  # not the sampler's own stream
    limits = risk.Thresholds()
    inflated = set(rnd.sample(range(1, 1001), 100))
    pool = []
    for i in range(1, 1001):
        dept = Decimal(rnd.randint(6000, 9000)) / 100
        gap = Decimal(rnd.randint(500, 1500) if i in inflated else rnd.randint(0, 499)) / 100
        facts = risk.Facts(self_total=min(dept + gap, Decimal(100)), dept_total=dept)
        found = risk.assess(facts, limits)
        pool.append(Candidate(i, i % 6, "", risk.weight(len(found), 20.0)))
    return pool, inflated


@given(st.integers(0, 2**32))
@settings(max_examples=25, deadline=None, derandomize=True)
def test_risk_weighting_finds_three_times_the_inflated_ones(seed: int) -> None:
    pool, inflated = _synthetic(seed)
    weighted = len(inflated & set(sampling.draw(pool, "risk", seed, rate=0.05)))
    uniform = len(inflated & set(sampling.draw(pool, "uniform", seed, rate=0.05)))
    # A uniform 5% sample expects 5 of the 100; the weighted one must find three times that.
    assert weighted >= 15, (weighted, uniform)


def test_risk_weighting_over_many_seeds() -> None:
    found = {"risk": 0, "uniform": 0}
    for seed in range(40):
        pool, inflated = _synthetic(seed)
        for method in found:
            found[method] += len(inflated & set(sampling.draw(pool, method, seed, rate=0.05)))
    assert found["risk"] >= 3 * found["uniform"], found
