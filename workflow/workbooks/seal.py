"""The seal of a downloaded workbook: which evaluation, version and scheme it was made
from, which cell holds which field, and an HMAC over all of it keyed with SECRET_KEY.

The seal lives on a veryHidden sheet. An upload is accepted only when the HMAC verifies
(nobody edited the hidden sheet or built one by hand) and the evaluation still has that
version and scheme; otherwise the unit is told, in Chinese, why and to download again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

# Bumped when the meaning of the sealed fields changes: old files are then refused.
FORMAT = "jixiao-self-evaluation-xlsx/1"
SHEET = "_jixiao"
KEYS = ("format", "evaluation_id", "version", "scheme_digest", "cells")


class SealError(ValueError):
    """A workbook whose seal is missing or does not verify; the message is Chinese."""


@dataclass(frozen=True)
class Seal:
    evaluation_id: int
    version: int
    scheme_digest: str
    # Field name (as the web form names it: e-<code>-actual, main_results) -> cell ("F12").
    cells: dict[str, str]

    def payload(self) -> str:
        """The canonical text the HMAC covers: sorted keys, no spaces, UTF-8."""
        body = {
            "format": FORMAT,
            "evaluation_id": self.evaluation_id,
            "version": self.version,
            "scheme_digest": self.scheme_digest,
            "cells": self.cells,
        }
        return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    def checksum(self, key: str | bytes) -> str:
        return mac(key, self.payload())


def mac(key: str | bytes, payload: str) -> str:
    raw = key.encode("utf-8") if isinstance(key, str) else key
    # A purpose prefix: the same SECRET_KEY also signs the session cookie; this MAC can never
    # be mistaken for one of those signatures, nor the other way round.
    return hmac.new(raw, b"workbook-seal\x00" + payload.encode("utf-8"), hashlib.sha256).hexdigest()


def rows_for(seal: Seal, key: str | bytes) -> list[tuple[str, str]]:
    """The hidden sheet's rows: one (name, value) per line, the checksum last."""
    payload = seal.payload()
    return [("payload", payload), ("checksum", mac(key, payload))]


def read(rows: dict[str, Any], key: str | bytes) -> Seal:
    """The seal from the hidden sheet's (name -> value) rows, verified, or SealError."""
    payload = rows.get("payload")
    checksum = rows.get("checksum")
    if not isinstance(payload, str) or not isinstance(checksum, str):
        raise SealError("文件中没有本系统的校验信息：请使用从本系统下载的自评表 Excel 文件填写")
    if not hmac.compare_digest(mac(key, payload), checksum.strip()):
        raise SealError(
            "文件的校验信息不符（隐藏的校验表被改动过，或文件不是本系统生成的），请重新下载后填写"
        )
    try:
        body = json.loads(payload)
        if body.get("format") != FORMAT or set(body) != set(KEYS):
            raise SealError("文件是旧版本系统生成的，格式已变化，请重新下载后填写")
        cells = {str(k): str(v) for k, v in dict(body["cells"]).items()}
        return Seal(
            int(body["evaluation_id"]), int(body["version"]), str(body["scheme_digest"]), cells
        )
    except SealError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # A verified payload is always well formed; this means a key was leaked or reused.
        raise SealError("文件的校验信息无法读取，请重新下载后填写") from exc
