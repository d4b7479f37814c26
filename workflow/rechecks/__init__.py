"""抽查复核: risk rules, sampling, re-checks, the deviation report and 结果应用."""
