"""Triggers: schedules, webhooks and chat reactions, all actions of one model.

Services, declared in ``plugin.py``: :class:`~hub.triggers.actions.Actions` (needs ``Engine``),
:class:`~hub.triggers.scheduler.Scheduler` (needs ``Actions``, ``Engine``) and
:class:`~hub.triggers.webhooks.Webhooks` (needs ``Actions``, ``Vault``, ``Engine``).

- ``actions.py``: the action model; every firing a unique row before its execution;
- ``cron.py``: cron expressions with time zones;
- ``scheduler.py``: firing due schedules, once per slot across hubs;
- ``webhooks.py``: the ``/hooks/{slug}`` route's logic: find, authenticate, limit, map, fire.
"""
