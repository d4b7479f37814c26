"""Notices to users: the in-site messages and the step notices sent by mail."""
