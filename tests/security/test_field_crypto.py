"""SM4-GCM at rest (GB/T 22239 §8.1.4.8, GB/T 39786 §8.4 e), known answers for SM3/SM4,
the SM2 seal of confirmed scores (§8.4 g) and its verification on page, PDF and CLI."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.conftest import login
from workflow.core import crypto
from workflow.core.extensions import db
from workflow.models import Evaluation, EvaluationSeal, SecurityEvent, User

KEY1 = "0123456789abcdeffedcba9876543210"
KEY2 = "00112233445566778899aabbccddeeff"


def test_known_answers() -> None:
    assert crypto.sm3(b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes.fromhex(KEY1)
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert (enc.update(key) + enc.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm2_round_trip_and_a_changed_byte() -> None:
    from tongsuopy.crypto import serialization

    key = serialization.load_pem_private_key(crypto.generate_sm2_pem().encode(), password=None)
    sig = crypto.sm2_sign(key, "快照".encode())
    assert crypto.sm2_verify(key.public_key(), "快照".encode(), sig)
    assert not crypto.sm2_verify(key.public_key(), "快照!".encode(), sig)
    other = serialization.load_pem_private_key(crypto.generate_sm2_pem().encode(), password=None)
    assert not crypto.sm2_verify(other.public_key(), "快照".encode(), sig)


def test_field_cipher_binds_column_and_key() -> None:
    ring = crypto.parse_keyring(json.dumps({"active": "k1", "keys": {"k1": KEY1}}))
    stored = crypto.encrypt_field("13812348000", "users.phone", ring)
    assert stored.startswith("sm4gcm:k1:") and "13812348000" not in stored
    assert crypto.decrypt_field(stored, "users.phone", ring) == "13812348000"
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt_field(stored, "users.email", ring)  # moved to another column
    tampered = stored[:-4] + ("AAAA" if stored[-4:] != "AAAA" else "BBBB")
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt_field(tampered, "users.phone", ring)
    wrong = crypto.parse_keyring(json.dumps({"active": "k1", "keys": {"k1": KEY2}}))
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt_field(stored, "users.phone", wrong)


def test_the_database_holds_no_plaintext(any_app: Flask) -> None:
    with any_app.app_context():
        raw = db.session.execute(
            sa.text("SELECT email FROM users WHERE username = 'unit_a'")
        ).scalar()
        phones = db.session.execute(sa.text("SELECT phone FROM evaluations")).scalars().all()
        assert raw.startswith("sm4gcm:") and "example.gov.cn" not in raw
        assert all(p.startswith("sm4gcm:") and "025" not in p for p in phones)
        user = db.session.scalar(sa.select(User).where(User.username == "unit_a"))
        assert user.email == "unit_a@example.gov.cn"  # what the mail worker reads
        # The second factor's secret too: whoever reads the table cannot compute the codes.
        secret = db.session.execute(
            sa.text("SELECT totp_secret FROM users WHERE username = 'unit_a'")
        ).scalar()
        assert secret.startswith("sm4gcm:") and user.totp_secret not in secret
        assert len(user.totp_secret) == 32 and user.totp_secret.isalnum()


def test_keys_rotate_reencrypts_every_value(any_app: Flask) -> None:
    ring = json.dumps({"active": "k2", "keys": {"dev1": crypto.keyring_dev_key(), "k2": KEY2}})
    any_app.config["FIELD_KEYRING"] = ring
    result = any_app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    with any_app.app_context():
        for column in ("email", "totp_secret"):
            raws = db.session.execute(
                sa.text(f"SELECT {column} FROM users WHERE {column} IS NOT NULL")
            ).scalars()
            assert all(r.startswith("sm4gcm:k2:") for r in raws), column
        # The old key can go now: every value opens with the new one alone.
        any_app.config["FIELD_KEYRING"] = json.dumps({"active": "k2", "keys": {"k2": KEY2}})
        assert (
            db.session.scalar(sa.select(User.email).where(User.username == "finance"))
            == "finance@example.gov.cn"
        )
        assert db.session.scalars(sa.select(Evaluation.phone)).first() == "025-00000000"


def test_masked_where_the_full_value_is_not_needed(app: Flask) -> None:
    client = app.test_client()
    login(client, "sysadmin")
    html = client.get("/admin/users").get_data(as_text=True)
    assert "u***@example.gov.cn" in html and "unit_a@example.gov.cn" not in html
    login(client := app.test_client(), "finance")
    with app.app_context():
        ev_id = db.session.scalar(sa.select(Evaluation.id).where(Evaluation.state == "confirmed"))
    page = client.get(f"/evaluations/{ev_id}").get_data(as_text=True)
    assert "025****0000" in page and "025-00000000" not in page


def _confirmed(app: Flask) -> int:
    with app.app_context():
        ev_id = db.session.scalar(sa.select(Evaluation.id).where(Evaluation.state == "confirmed"))
        assert ev_id is not None
        return int(ev_id)


def test_confirm_seals_and_the_page_shows_a_tampered_total(any_app: Flask) -> None:
    ev_id = _confirmed(any_app)
    client = any_app.test_client()
    login(client, "finance")
    page = client.get(f"/evaluations/{ev_id}").get_data(as_text=True)
    assert 'data-seal="valid"' in page and "签章有效" in page
    # The finance stage page shows the confirmed grade too, so it checks the seal as well.
    stage = client.get(f"/finance/{ev_id}").get_data(as_text=True)
    assert 'data-seal="valid"' in stage
    runner = any_app.test_cli_runner()
    ok = runner.invoke(args=["evaluations", "verify", str(ev_id)])
    assert ok.exit_code == 0 and "签章有效" in ok.output
    with any_app.app_context():
        db.session.execute(
            sa.text("UPDATE evaluations SET final_total = 99.5 WHERE id = :id"), {"id": ev_id}
        )
        db.session.commit()
    page = client.get(f"/evaluations/{ev_id}").get_data(as_text=True)
    assert 'data-seal="tampered"' in page and "已篡改" in page and "totals 与签章时不一致" in page
    stage = client.get(f"/finance/{ev_id}").get_data(as_text=True)
    assert 'data-seal="tampered"' in stage and "totals 与签章时不一致" in stage
    with any_app.app_context():  # each showing of the tampered grade is a security event
        reported = db.session.scalars(
            sa.select(SecurityEvent).where(SecurityEvent.kind == "seal_invalid")
        ).all()
        assert len(reported) == 2 and {r.username for r in reported} == {"finance"}
        assert reported[0].object == f"evaluation:{ev_id}" and reported[0].outcome == "failure"
    bad = runner.invoke(args=["evaluations", "verify", str(ev_id)])
    assert bad.exit_code == 1 and "已篡改" in bad.output


def test_the_lists_flag_a_tampered_confirmed_grade(app: Flask) -> None:
    """Lists show the confirmed total and grade too: a total changed behind the app's back
    is flagged there as well (compared with the sealed snapshot, one query a page)."""
    ev_id = _confirmed(app)
    client = app.test_client()
    login(client, "finance")
    listing = "/finance/?state=confirmed"
    assert f'data-testid="tampered-{ev_id}"' not in client.get(listing).get_data(as_text=True)
    with app.app_context():
        db.session.execute(
            sa.text("UPDATE evaluations SET final_total = 99.5 WHERE id = :id"), {"id": ev_id}
        )
        db.session.commit()
    for url in (listing, "/evaluations/?state=confirmed"):
        page = client.get(url).get_data(as_text=True)
        assert f'data-testid="tampered-{ev_id}"' in page, url
    # Only that one: the other confirmed evaluations of the demo keep their seals.
    assert client.get(listing).get_data(as_text=True).count('data-testid="tampered-') == 1


def test_the_dashboard_export_flags_a_tampered_confirmed_grade(app: Flask) -> None:
    """The 明细 sheet shows each confirmed grade too: checked against its seal as the lists are."""
    from io import BytesIO

    from openpyxl import load_workbook

    ev_id = _confirmed(app)
    client = app.test_client()
    login(client, "finance")

    def grades() -> dict[int, str]:
        sheet = load_workbook(BytesIO(client.get("/dashboard/export.xlsx").data))["明细"]
        rows = list(sheet.iter_rows(values_only=True))
        column = rows[0].index("确认等级")
        return {r[0]: r[column] for r in rows[1:] if r[0] is not None}

    assert not any("篡改" in str(g) for g in grades().values())
    with app.app_context():
        db.session.execute(
            sa.text("UPDATE evaluations SET final_total = 99.5 WHERE id = :id"), {"id": ev_id}
        )
        db.session.commit()
    flagged = {i for i, g in grades().items() if "已篡改" in str(g)}
    assert flagged == {ev_id}


def test_a_changed_signed_snapshot_fails_the_signature(app: Flask) -> None:
    ev_id = _confirmed(app)
    with app.app_context():
        seal = db.session.scalar(
            sa.select(EvaluationSeal).where(EvaluationSeal.evaluation_id == ev_id)
        )
        data = json.loads(seal.snapshot)
        data["grades"]["final"] = "优"
        seal.snapshot = json.dumps(data, ensure_ascii=False)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["evaluations", "verify", str(ev_id)])
    assert result.exit_code == 1 and "SM2 签名校验失败" in result.output


def test_the_pdf_prints_the_seal_and_its_code(app: Flask) -> None:
    from workflow.documents.render import build_view
    from workflow.evaluations import seal as seal_ops

    ev_id = _confirmed(app)
    with app.app_context():
        ev = db.session.get(Evaluation, ev_id)
        verdict = seal_ops.verify(ev)
        view = build_view(ev)
        assert verdict.status == seal_ops.VALID
        assert f"签章有效　验证码 {verdict.code}" in view.seal
        html = app.jinja_env.get_template("pdf/evaluation.html").render(form=view)
        assert verdict.code in html


def test_production_refuses_the_development_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from workflow import create_app

    with pytest.raises(RuntimeError, match="AUDIT_HMAC_KEY"):
        create_app(
            {
                "ENV_NAME": "production",
                "SECRET_KEY": "x" * 8 + "a-long-enough-random-secret-key-0123",
                "VAR_DIR": str(tmp_path),
                "PDF_DIR": str(tmp_path / "p"),
                "EVIDENCE_DIR": str(tmp_path / "e"),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                "TRUSTED_HOSTS": ["jixiao.example.gov.cn"],
                "CLAMD_ADDRESS": "unix:/nonexistent/clamd.sock",
            }
        )
    with pytest.raises(RuntimeError, match="AUDIT_RETENTION_DAYS"):
        create_app({"AUDIT_RETENTION_DAYS": 179, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
