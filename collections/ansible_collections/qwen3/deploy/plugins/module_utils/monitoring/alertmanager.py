"""Alertmanager's configuration, the silences a rollout takes and the alert it posts when it stops.

Receivers come from the inventory (webhooks, whose URLs may hold tokens, and email through an SMTP relay, whose
password it holds: the file is 0640 root:prometheus and the task that writes it has ``no_log``). ``Watchdog`` goes
to its own receiver when the inventory names one (a dead man's switch), else nowhere: it fires always, and paging
on it would page every ``repeat_interval``.

Silences and the ``RolloutStopped`` alert use Alertmanager's v2 API (``POST /api/v2/silences``,
``DELETE /api/v2/silence/{id}``, ``POST /api/v2/alerts``; alertmanager 0.25, Debian 12). A silence matches the
``host`` label every one of our alerts carries.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring.alerts import MonitoringError

NULL_RECEIVER = "qwen3-null"
SILENCE_AUTHOR = "qwen3-deploy"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _email(receiver: dict, smtp_password: str) -> dict:
    """One ``email_configs`` entry. The password goes into the 0640 file: Alertmanager 0.25 (Debian 12) has no
    ``auth_password_file`` for email (0.26 added it). Without ``auth_username`` nothing is sent to authenticate."""
    entry = {"to": receiver["to"], "from": receiver["from"], "smarthost": receiver["smarthost"],
             "require_tls": bool(receiver.get("require_tls", True)), "send_resolved": True}
    if receiver.get("auth_username"):
        entry |= {"auth_username": receiver["auth_username"], "auth_password": smtp_password}
    return entry


def config(receivers: list[dict], *, group_wait_s: int, repeat_interval: str, watchdog_receiver: str = "",
           email_receivers: list[dict] = (), smtp_password: str = "") -> dict:
    """``receivers``: ``[{"name", "url"}]`` webhooks; ``email_receivers``: ``[{"name", "to", "from", "smarthost",
    "auth_username"?, "require_tls"?}]``. Every alert but Watchdog goes to all of them."""
    names = [r.get("name") for r in [*receivers, *email_receivers]]
    if len(set(names)) != len(names):
        raise MonitoringError("receiver names must be distinct")
    if watchdog_receiver and watchdog_receiver not in names:
        raise MonitoringError(f"the Watchdog receiver {watchdog_receiver!r} is not one of the receivers")
    out_receivers = [{"name": NULL_RECEIVER}]
    out_receivers += [{"name": r["name"], "webhook_configs": [{"url": r["url"], "send_resolved": True}]}
                      for r in receivers]
    out_receivers += [{"name": r["name"], "email_configs": [_email(r, smtp_password)]} for r in email_receivers]
    routes = [{"receiver": watchdog_receiver or NULL_RECEIVER, "matchers": ['alertname="Watchdog"'],
               "repeat_interval": "1m" if watchdog_receiver else repeat_interval}]
    pagers = [name for name in names if name != watchdog_receiver]
    routes += [{"receiver": name, "matchers": ['alertname!="Watchdog"'], "continue": True} for name in pagers]
    return {
        "route": {"receiver": NULL_RECEIVER, "group_by": ["alertname", "host"], "group_wait": f"{group_wait_s}s",
                  "group_interval": "1m", "repeat_interval": repeat_interval, "routes": routes},
        "receivers": out_receivers,
    }


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def silence(host: str, seconds: int, comment: str, now: datetime | None = None, *, silence_id: str = "",
            alertname: str = "") -> dict:
    """A silence of every alert about ``host`` for ``seconds`` (only ``alertname`` when given: verification holds
    the canary, so only CanaryStale); with ``silence_id``, that silence updated (resume shortens it to a grace
    period instead of deleting it: an alert that fired while the host was paused, such as CanaryStale, needs a
    scrape and an evaluation to resolve, and must not page in between)."""
    if not _NAME.match(host):
        raise MonitoringError(f"cannot silence host {host!r}")
    if alertname and not _NAME.match(alertname):
        raise MonitoringError(f"cannot silence alert {alertname!r}")
    start = now or datetime.now(UTC)
    # RolloutStopped is what the rollout says about this very host: never silenced.
    only = ({"name": "alertname", "value": alertname, "isRegex": False, "isEqual": True} if alertname
            else {"name": "alertname", "value": "RolloutStopped", "isRegex": False, "isEqual": False})
    body = {"matchers": [{"name": "host", "value": host, "isRegex": False, "isEqual": True}, only],
            "startsAt": _stamp(start), "endsAt": _stamp(start + timedelta(seconds=int(seconds))),
            "createdBy": SILENCE_AUTHOR, "comment": comment}
    if silence_id:
        body["id"] = silence_id
    return body


def rollout_stopped(host: str, reason: str, minutes: int = 60, now: datetime | None = None) -> list[dict]:
    """The alert a rollout posts when a host fails verification and is rolled back: the host is healthy again and
    out of the router, so no other alert would say that the rollout stopped."""
    start = now or datetime.now(UTC)
    return [{"labels": {"alertname": "RolloutStopped", "host": host, "severity": "critical"},
             "annotations": {"summary": f"the rolling upgrade stopped at {host}: it failed verification and was "
                                        "rolled back",
                             "reason": reason[:1000],
                             "runbook": "read the run's VERIFICATION FAILED lines and reports/<run>/; fix, then rerun "
                                        "site.yml (the host rejoins the router once verified)"},
             "startsAt": _stamp(start), "endsAt": _stamp(start + timedelta(minutes=minutes))}]
