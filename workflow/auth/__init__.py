"""Login, logout and password change."""
