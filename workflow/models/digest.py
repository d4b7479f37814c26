"""The content digest that names immutable JSON rows (scheme snapshots, frameworks, target
versions): equal content, equal digest, in every process and database."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def snapshot_digest(content: dict[str, Any]) -> str:
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
