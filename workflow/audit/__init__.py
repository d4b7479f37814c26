"""安全审计: the audit administrator's viewer and export, the chain verifier, archiving."""
