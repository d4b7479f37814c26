"""The web benchmark's servers: the two baseline apps (a Flask-SQLAlchemy route rendering 50
rows through a template, as ../shared/environment.md defines it, and the same with raw
sqlite3), gunicorn started and stopped, and wrk's figures. Used by bench_web.py."""

import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USER_AGENT = "jixiao-bench"


BASELINE_ORM = """
import os
from decimal import Decimal

from flask import Flask, render_template
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, Numeric, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Project(db.Model):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Evaluation(db.Model):
    __tablename__ = "evaluations"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    state: Mapped[str] = mapped_column(String(30))
    self_total: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    self_grade: Mapped[str | None] = mapped_column(String(2))


app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BENCH_DB_URL"]
db.init_app(app)


@app.route("/")
def index():
    rows = db.session.execute(
        select(Evaluation, Project.name)
        .join(Project, Project.id == Evaluation.project_id)
        .order_by(Evaluation.id)
        .limit(50)
    ).all()
    return render_template("rows.html", rows=rows)
"""

ROWS_TEMPLATE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>baseline</title></head>
<body><table>{% for e, name in rows %}<tr><td>{{ e.id }}</td><td>{{ name }}</td><td>{{ e.state }}</td><td>{{ e.self_total }}</td><td>{{ e.self_grade }}</td></tr>{% endfor %}</table></body></html>
"""

BASELINE = '''
import sqlite3, os
from flask import Flask
from jinja2 import Environment

app = Flask(__name__)
DB = os.environ["BENCH_DB"]
TEMPLATE = Environment(autoescape=True).from_string("""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>baseline</title></head>
<body><table>{% for r in rows %}<tr><td>{{ r[0] }}</td><td>{{ r[1] }}</td><td>{{ r[2] }}</td><td>{{ r[3] }}</td><td>{{ r[4] }}</td></tr>{% endfor %}</table></body></html>""")


_con = None


@app.route("/")
def index():
    # One connection per worker process, kept open: the cheapest way to read SQLite.
    global _con
    if _con is None:
        _con = sqlite3.connect(DB, check_same_thread=False)
    rows = _con.execute(
        "SELECT e.id, p.name, e.state, e.self_total, e.self_grade FROM evaluations e "
        "JOIN projects p ON p.id = e.project_id ORDER BY e.id LIMIT 50"
    ).fetchall()
    return TEMPLATE.render(rows=rows)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(
    app_spec: str, port: int, env: dict[str, str], cwd: Path
) -> subprocess.Popen[bytes]:
    cmd = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "-w",
        "2",
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        app_spec,
    ]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env)  # noqa: S603 - fixed argv
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gunicorn {app_spec} did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def wrk(url: str, duration: int, connections: int, cookie: str | None = None) -> dict[str, float]:
    cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--latency", url]
    cmd[1:1] = ["-H", f"User-Agent: {USER_AGENT}"]
    if cookie:
        cmd[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        value = float(m.group(1))
        return value / 1000 if m.group(2) == "us" else value * 1000 if m.group(2) == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
    }
