"""Statistics for reviewers, finance and administrators: charts and exports."""
