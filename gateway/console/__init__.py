"""The officers' web console, served by the gateway at ``/`` (pages under ``/console``).

Server-rendered pages (Jinja2) with htmx for live fragments and server-sent events for alerts; no
JavaScript build step, and every script, style and chart library ships in ``static/``. The console
keeps a session per signed-in officer (the officer's token, server-side) and reads and acts only
through the gateway's JSON API with that token, so every page and action passes the same role
checks, court checks, desks and audit as any other client (``api.py``)."""
