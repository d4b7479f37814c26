"""Helpers shared by the scoring tests (imported by name; tests/scoring is on sys.path)."""

from __future__ import annotations

from typing import Any

from scoring import Scheme, scheme_from_dict


def one_leaf_scheme(
    kind: str,
    weight: str = "10",
    target: str | None = None,
    na_policy: str = "rescale",
    **rule: Any,
) -> Scheme:
    """A scheme whose only scored leaf is ``x`` (plus a filler so the total is 100)."""
    leaf: dict[str, Any] = {
        "code": "x",
        "name": "被测指标",
        "weight": weight,
        "target": target,
        "rule": {"kind": kind, **rule},
    }
    filler = {
        "code": "filler",
        "name": "其他",
        "weight": str(100 - float(weight)).rstrip("0").rstrip(".") if float(weight) != 100 else "0",
        "target": "正常",
        "rule": {"kind": "tier"},
    }
    return scheme_from_dict(
        {
            "name": "t",
            "version": "1",
            "title": "测试",
            "total": "100",
            "na_policy": na_policy,
            "tree": [
                {
                    "name": "产出指标",
                    "children": [{"name": "数量指标", "indicators": [leaf, filler]}],
                }
            ],
        }
    )
