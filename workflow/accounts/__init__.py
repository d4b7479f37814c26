"""User accounts and administrators (账号管理)."""
