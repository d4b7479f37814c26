"""Deadline reminders: what is due, the claims, their delivery, the beat task."""
