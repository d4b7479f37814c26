"""Drawing a re-check sample (抽样): uniform, stratified (by department or by grade) or
risk-weighted, at a rate or a count, from a seed. Pure: plain values in, ids out.

The same seed and the same candidates (in any order) give the same sample: candidates are
put in id order first, and every draw comes from one ``random.Random(seed)``.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

METHODS: dict[str, str] = {
    "uniform": "简单随机",
    "department": "按主管部门分层",
    "grade": "按自评等级分层",
    "risk": "按风险加权",
}


class SamplingError(ValueError):
    """Bad parameters; the message is shown to the user (Chinese)."""


class Candidate(NamedTuple):
    # Read by position below: any (id, department, grade, weight) tuple will do, such as the
    # rows a batch reads from the database (a million of them).
    id: int
    department_id: int = 0
    grade: str = ""
    weight: float = 1.0


def sample_size(population: int, *, rate: float | None = None, count: int | None = None) -> int:
    """How many to draw: a count as given (at most the population), or a rate rounded half
    up with at least one when the population is not empty."""
    if (rate is None) == (count is None):
        raise SamplingError("请填写抽样比例或抽样数量（二者选一）")
    if count is not None:
        if count < 1:
            raise SamplingError("抽样数量须大于 0")
        return min(count, population)
    assert rate is not None
    if not 0 < rate <= 1:
        raise SamplingError("抽样比例须大于 0% 且不超过 100%")
    if population == 0:
        return 0
    return min(population, max(1, math.floor(population * rate + 0.5)))


def draw(
    candidates: Iterable[Candidate],
    method: str,
    seed: int,
    *,
    rate: float | None = None,
    count: int | None = None,
    weights: Sequence[float] | None = None,
) -> list[int]:
    """The sampled ids, in id order.

    With ``weights``, a candidate's fourth field is an index into it rather than the weight
    itself: a batch reads each evaluation's risk mask from the database (bit i: rule i
    fires), and ``weights[mask]`` is that evaluation's weight."""
    if method not in METHODS:
        raise SamplingError(f"未知的抽样方法：{method}")
    pool = sorted(candidates)  # by id first: ids are unique
    n = sample_size(len(pool), rate=rate, count=count)
    rng = random.Random(seed)
    if n == 0:
        return []
    if method == "uniform":
        chosen = rng.sample(pool, n)
    elif method == "risk":
        chosen = _weighted(pool, n, rng, weights)
    else:
        key = itemgetter(1) if method == "department" else itemgetter(2)
        chosen = _stratified(pool, n, rng, key)
    return sorted(c[0] for c in chosen)


def allocate(sizes: Sequence[int], n: int) -> list[int]:
    """Proportional allocation of n over strata of these sizes, largest remainder first
    (ties to the earlier stratum); no stratum gets more than it has."""
    total = sum(sizes)
    if total == 0:
        return [0] * len(sizes)
    exact = [n * s / total for s in sizes]
    given = [min(s, math.floor(e)) for s, e in zip(sizes, exact, strict=True)]
    order = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - math.floor(exact[i])), i))
    left = n - sum(given)
    while left > 0:
        moved = False
        for i in order:
            if left == 0:
                break
            if given[i] < sizes[i]:
                given[i] += 1
                left -= 1
                moved = True
        if not moved:
            break
    return given


def _stratified(
    pool: list[Candidate], n: int, rng: random.Random, key: itemgetter[Any]
) -> list[Candidate]:
    strata: dict[object, list[Candidate]] = defaultdict(list)
    for c in pool:
        strata[key(c)].append(c)
    names = sorted(strata, key=str)
    shares = allocate([len(strata[s]) for s in names], n)
    chosen: list[Candidate] = []
    for name, k in zip(names, shares, strict=True):
        chosen.extend(rng.sample(strata[name], k))
    return chosen


def _weighted(
    pool: list[Candidate], n: int, rng: random.Random, weights: Sequence[float] | None
) -> list[Candidate]:
    """Weighted sampling without replacement (Efraimidis and Spirakis): each candidate's key
    is log(u)/w, the n largest keys win (on equal keys the larger id); a weight of 2 makes an
    item twice as likely to be drawn first. The n-th largest key is found by one sort of the
    keys (C speed), not a heap of a million tuples."""
    rand = rng.random
    log = math.log
    if weights is None:
        live = [c for c in pool if c[3] > 0]
        keys = [log(1.0 - rand()) / c[3] for c in live]
    else:
        live = [c for c in pool if weights[c[3]] > 0]
        keys = [log(1.0 - rand()) / weights[c[3]] for c in live]
    if n >= len(live):
        return live
    cut = sorted(keys)[-n]
    above = [c for c, k in zip(live, keys, strict=True) if k > cut]
    ties = [c for c, k in zip(live, keys, strict=True) if k == cut]  # in id order
    return above + ties[len(ties) - (n - len(above)) :]
