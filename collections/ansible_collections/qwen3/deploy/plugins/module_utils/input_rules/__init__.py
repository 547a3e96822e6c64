"""Per-role input rules: one module per role, each exporting RULES = {variable: checker} and optionally
CHECKS = [function(values, profile) -> list of "variable: message"] for rules that span variables."""
