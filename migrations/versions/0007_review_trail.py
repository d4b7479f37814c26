"""The review trail: overall opinions (审核意见) and the reason a form was returned

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 13:00:00

- evaluations.dept_opinion, evaluations.final_opinion: the department's opinion at approval
  and finance's at confirmation, printed on the unit's pages and in the PDF.
- evaluations.returned_reason: set by a return (退回单位, 退回主管部门) and cleared when the
  form moves forward; filled here for the forms whose last step in the log was a return.

ADD COLUMN only: SQLite keeps the table (and its counting triggers) as it is.
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('evaluations', sa.Column('dept_opinion', sa.Text(), nullable=True))
    op.add_column('evaluations', sa.Column('final_opinion', sa.Text(), nullable=True))
    op.add_column('evaluations', sa.Column('returned_reason', sa.Text(), nullable=True))
    # A form still where its last logged step (a return) left it carries that reason.
    op.execute(
        "UPDATE evaluations SET returned_reason = ("
        " SELECT a.reason FROM audit_log a WHERE a.evaluation_id = evaluations.id"
        " ORDER BY a.id DESC LIMIT 1)"
        " WHERE EXISTS (SELECT 1 FROM audit_log a WHERE a.evaluation_id = evaluations.id"
        " AND a.id = (SELECT MAX(b.id) FROM audit_log b WHERE b.evaluation_id = evaluations.id)"
        " AND a.event IN ('return', 'finance_return') AND a.to_state = evaluations.state)"
    )


def downgrade():
    op.drop_column('evaluations', 'returned_reason')
    op.drop_column('evaluations', 'final_opinion')
    op.drop_column('evaluations', 'dept_opinion')
