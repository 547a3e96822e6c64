"""Capacity tuning (playbooks/tune.yml, role engine_tuner): the grid and SLO (``sweep``), the verdict on the
measured curve and fleet sizing (``curve``), the plot (``plot``), the report and host_vars snippet
(``report``) and the provenance preflight checks against (``provenance``)."""
