"""Day two: the alert rules, scrape targets and metric names that keep a deployment proving itself.

``slo`` merges the thresholds verification gates on (one source of truth); ``alerts`` turns them into Prometheus
alert rules; ``metric_names`` pins the upstream metric names to the versions we install.
"""
