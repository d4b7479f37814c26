"""The newest PDF per evaluation, and the ZIP of a department's or a cycle's PDFs."""

from __future__ import annotations

import zipfile
from pathlib import Path

from task_world import World

from workflow.core.extensions import db
from workflow.documents.operations import store_pdf, write_zip
from workflow.documents.queries import latest_pdf, latest_pdfs


def test_latest_and_zip(task_world: World, tmp_path: Path) -> None:
    evaluation_id = task_world.evaluation.id
    task_world.evaluation.state = "self_scored"  # a draft has no PDF in force (see below)
    db.session.commit()
    assert latest_pdf(evaluation_id) is None
    store_pdf(evaluation_id, 2)
    task_world.evaluation.phone = "025-87654321"  # any change is a new version (3)
    db.session.commit()
    assert task_world.evaluation.version == 3
    newest = store_pdf(evaluation_id, 3)
    assert newest is not None
    assert latest_pdf(evaluation_id).id == newest.id
    rows = latest_pdfs(department_id=task_world.dept.id)
    assert [r.version for r in rows] == [3]
    assert latest_pdfs(department_id=task_world.other_unit.parent_id) == []
    assert [r.id for r in latest_pdfs(cycle_id=task_world.cycle.id)] == [newest.id]
    target = tmp_path / "zips" / "dept.zip"
    assert write_zip(rows, target) == 1
    with zipfile.ZipFile(target) as archive:
        [name] = archive.namelist()
        assert name.endswith(f"-{evaluation_id}-v3.pdf") and "政务服务信息系统" in name
        assert archive.read(name).startswith(b"%PDF")
    assert [p.name for p in target.parent.iterdir()] == ["dept.zip"]
    # Back in draft (withdrawn or returned): its PDF leaves the ZIP, the page still links it.
    task_world.evaluation.state = "draft"
    db.session.commit()
    assert latest_pdfs(department_id=task_world.dept.id) == []
    assert latest_pdf(evaluation_id) is not None
