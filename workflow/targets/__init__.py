"""A project's performance targets (绩效目标): setting, approving, adjusting; the indicator library."""
