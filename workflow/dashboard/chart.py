"""Geometry of the grade-distribution chart: a server-rendered SVG (no JavaScript).

One horizontal stacked bar per department, one segment per grade; the template draws the
rectangles, colours come from CSS classes (the CSP allows no inline style).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workflow.dashboard.queries import GRADES, NO_GRADE, DepartmentGrades

SERIES: tuple[tuple[str, str], ...] = (
    ("优", "grade-you"),
    ("良", "grade-liang"),
    ("中", "grade-zhong"),
    ("差", "grade-cha"),
    (NO_GRADE, "grade-none"),
)
assert tuple(s for s, _ in SERIES[:4]) == GRADES

WIDTH = 760
LABEL_WIDTH = 250
RIGHT_PAD = 50
ROW_HEIGHT = 34
BAR_HEIGHT = 22
TOP = 40  # room for the legend


@dataclass(frozen=True)
class Segment:
    grade: str
    css: str
    count: int
    x: float
    width: float
    show_label: bool

    @property
    def text_x(self) -> float:
        return round(self.x + self.width / 2, 1)


@dataclass(frozen=True)
class Bar:
    label: str
    total: int
    y: float
    segments: list[Segment] = field(default_factory=list)

    @property
    def text_y(self) -> float:
        return round(self.y + BAR_HEIGHT / 2 + 5, 1)

    @property
    def end_x(self) -> float:
        return round(
            (self.segments[-1].x + self.segments[-1].width) if self.segments else LABEL_WIDTH, 1
        )


@dataclass(frozen=True)
class LegendItem:
    grade: str
    css: str
    x: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: list[Bar]
    legend: list[LegendItem]
    ticks: list[tuple[float, int]]


def grade_chart(departments: list[DepartmentGrades]) -> Chart:
    scale_max = max((d.total for d in departments), default=0) or 1
    span = WIDTH - LABEL_WIDTH - RIGHT_PAD
    bars: list[Bar] = []
    for i, dept in enumerate(departments):
        y = TOP + i * ROW_HEIGHT
        x = float(LABEL_WIDTH)
        segments = []
        for grade, css in SERIES:
            n = dept.counts.get(grade, 0)
            if not n:
                continue
            w = span * n / scale_max
            segments.append(Segment(grade, css, n, round(x, 1), round(w, 1), w >= 16))
            x += w
        bars.append(Bar(dept.department, dept.total, y, segments))
    legend = [LegendItem(g, css, LABEL_WIDTH + i * 80) for i, (g, css) in enumerate(SERIES)]
    step = max(1, -(-scale_max // 5))
    ticks = [
        (round(LABEL_WIDTH + span * v / scale_max, 1), v) for v in range(0, scale_max + 1, step)
    ]
    height = TOP + max(1, len(departments)) * ROW_HEIGHT + 24
    return Chart(WIDTH, height, LABEL_WIDTH, BAR_HEIGHT, bars, legend, ticks)
