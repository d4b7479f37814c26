"""The supervising department's review of a self-evaluation."""
