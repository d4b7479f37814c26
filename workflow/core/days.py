"""Days to a deadline, counted and worded once for every page, e-mail and PDF.

A cycle counts in calendar days (天) or in Chinese working days (个工作日: official holidays
and make-up days, 调休, from chinese_calendar). The number and its words come from here
alone, so the page, the reminder e-mail and the PDF never disagree.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

WORKING = "working"


def is_working_day(day: date) -> bool:
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # Years the package does not know yet: Monday to Friday.
        return day.weekday() < 5


@functools.lru_cache(maxsize=4096)
def days_left(today: date, deadline: date, day_kind: str) -> int:
    """Days from today to the deadline: 0 on the deadline day, negative once overdue.

    Working days count the working days after today up to and including the deadline
    (after the deadline up to and including today when overdue).
    """
    if day_kind != WORKING:
        return (deadline - today).days
    if deadline == today:
        return 0
    step = 1 if deadline > today else -1
    start, end = (today, deadline) if step == 1 else (deadline, today)
    count = 0
    day = start + timedelta(days=1)
    while day <= end:
        if is_working_day(day):
            count += 1
        day += timedelta(days=1)
    return count * step


def day_unit(day_kind: str) -> str:
    """The counted unit after a number: 3 天, 3 个工作日."""
    return "个工作日" if day_kind == WORKING else "天"


def days_text(left: int, day_kind: str) -> str:
    """还剩 3 天 / 今天截止 / 已逾期 2 个工作日."""
    if left < 0:
        return f"已逾期 {-left} {day_unit(day_kind)}"
    if left == 0:
        return "今天截止"
    return f"还剩 {left} {day_unit(day_kind)}"
