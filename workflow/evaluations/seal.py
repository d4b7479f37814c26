"""The SM2 seal of a confirmed evaluation (GB/T 39786 §8.4 g, partly h).

On confirm, in the confirming transaction, a canonical snapshot of what was confirmed (the
evaluation, its project and cycle, the three score columns of every indicator, the totals
and the grades) is signed with the server's SM2 key and kept (``evaluation_seals``).
Whenever the grade is shown (detail page, PDF) and by ``flask evaluations verify ID``, the
snapshot is rebuilt from the live rows and compared with the signed one, and the signature is
checked: a changed ``final_total`` or indicator score, or a changed stored snapshot, shows as
已篡改.

The key is the server's (integrity and system origin); an officer's own SM2 key (USBKey,
协同签名) could replace it without a schema change: the seal row keeps the key id.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from workflow.core import crypto
from workflow.core.audit import record_security_event
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.machine import State
from workflow.models import Cycle, Evaluation, EvaluationSeal, Project

log = logging.getLogger(__name__)

VALID = "valid"
TAMPERED = "tampered"
UNSEALED = "unsealed"
STATUS_LABELS = {VALID: "签章有效", TAMPERED: "已篡改", UNSEALED: "未签章"}


def _d(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def snapshot(evaluation: Evaluation) -> dict[str, Any]:
    project = db.session.get(Project, evaluation.project_id)
    cycle = db.session.get(Cycle, evaluation.cycle_id)
    rows = sorted(evaluation.rows, key=lambda r: (r.position, r.code))
    return {
        "evaluation_id": evaluation.id,
        "project": {"id": evaluation.project_id, "name": project.name if project else ""},
        "cycle": {"id": evaluation.cycle_id, "name": cycle.name if cycle else ""},
        "unit_id": evaluation.unit_id,
        "indicators": [
            [r.code, _d(r.self_score), _d(r.dept_score), _d(r.final_score)] for r in rows
        ],
        "totals": {
            "self": _d(evaluation.self_total),
            "dept": _d(evaluation.dept_total),
            "final": _d(evaluation.final_total),
        },
        "grades": {
            "self": evaluation.self_grade,
            "dept": evaluation.dept_grade,
            "final": evaluation.final_grade,
        },
        "confirmer_id": evaluation.confirmer_id,
    }


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def sign(evaluation: Evaluation, user: Any = None) -> EvaluationSeal:
    """Seal the evaluation as it stands (no commit: the confirm's transaction). The signing
    operation is a security event of that transaction too."""
    key = crypto.seal_private_key()
    text = canonical(snapshot(evaluation))
    seal = EvaluationSeal(
        evaluation_id=evaluation.id,
        version=evaluation.version,
        snapshot=text,
        signature=base64.b64encode(crypto.sm2_sign(key, text.encode())).decode(),
        key_id=crypto.key_id(key),
    )
    db.session.add(seal)
    record_security_event(
        "seal",
        user=user,
        outcome="success",
        object=f"evaluation:{evaluation.id}",
        detail={"version": evaluation.version, "key_id": seal.key_id},
    )
    return seal


def latest(evaluation_id: int) -> EvaluationSeal | None:
    return db.session.scalar(
        select(EvaluationSeal)
        .where(EvaluationSeal.evaluation_id == evaluation_id)
        .order_by(EvaluationSeal.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class Verdict:
    status: str  # VALID, TAMPERED, UNSEALED
    problems: tuple[str, ...] = ()
    code: str = ""  # the verification code printed on the PDF
    key_id: str = ""

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


def verification_code(seal: EvaluationSeal) -> str:
    """SM3 over the signed snapshot and the signature, first 128 bits, in groups of four."""
    digest = crypto.sm3(seal.snapshot.encode() + b"|" + seal.signature.encode()).hex()[:32]
    return "-".join(digest[i : i + 4] for i in range(0, 32, 4)).upper()


def verify(evaluation: Evaluation) -> Verdict:
    """Check the latest seal against the signature and the live rows. An evaluation that is
    not confirmed has no grade to vouch for (UNSEALED)."""
    seal = latest(evaluation.id)
    if evaluation.state != State.CONFIRMED.value or seal is None:
        return Verdict(UNSEALED)
    problems: list[str] = []
    key = crypto.seal_private_key()
    if seal.key_id != crypto.key_id(key):
        problems.append(f"签章密钥 {seal.key_id} 不是本系统的签章密钥")
    try:
        signature = base64.b64decode(seal.signature, validate=True)
    except ValueError:
        signature = b""
    if not crypto.sm2_verify(key.public_key(), seal.snapshot.encode(), signature):
        problems.append("SM2 签名校验失败（签章快照被改动）")
    live = snapshot(evaluation)
    try:
        signed = json.loads(seal.snapshot)
    except ValueError:
        signed = {}
    for field in sorted(set(live) | set(signed)):
        if live.get(field) != signed.get(field):
            problems.append(f"{field} 与签章时不一致")
    code = verification_code(seal)
    if problems:
        return Verdict(TAMPERED, tuple(problems), code, seal.key_id)
    return Verdict(VALID, (), code, seal.key_id)


def tampered_among(listed: list[tuple[int, Decimal | None, str | None]]) -> set[int]:
    """The lists' check: of these confirmed evaluations (id, final total, final grade as a
    list shows them), those whose total or grade differs from what their latest seal signed.
    One query and a JSON read per row, no signature check (the detail and stage pages, the
    PDF and `flask evaluations verify` check the signature too). An evaluation confirmed
    before sealing existed has no seal and is not flagged here."""
    if not listed:
        return set()
    shown = {i: (_d(total), grade) for i, total, grade in listed}
    newest = (
        select(func.max(EvaluationSeal.id))
        .where(EvaluationSeal.evaluation_id.in_(shown))
        .group_by(EvaluationSeal.evaluation_id)
    )
    bad: set[int] = set()
    for evaluation_id, text in db.session.execute(
        select(EvaluationSeal.evaluation_id, EvaluationSeal.snapshot).where(
            EvaluationSeal.id.in_(newest)
        )
    ):
        try:
            data = json.loads(text)
            signed = (data["totals"]["final"], data["grades"]["final"])
        except (ValueError, KeyError, TypeError):
            signed = None
        if signed != shown[evaluation_id]:
            bad.add(evaluation_id)
    return bad


def check(evaluation: Evaluation, user: Any = None) -> Verdict:
    """``verify``, and a tampered seal reported as a security event ('seal_invalid') in a
    short transaction of its own: the page or command that found it only reads."""
    verdict = verify(evaluation)
    if verdict.status == TAMPERED:
        evaluation_id = evaluation.id
        session = db.session()
        try:
            session.rollback()
            begin_write()
            record_security_event(
                "seal_invalid",
                user=user,
                outcome="failure",
                object=f"evaluation:{evaluation_id}",
                detail={"problems": list(verdict.problems)[:20], "code": verdict.code},
            )
            session.commit()
        except Exception:  # the page must still say 已篡改; the failure is logged
            session.rollback()
            log.exception("could not record the tampered seal of %s", evaluation_id)
    return verdict
