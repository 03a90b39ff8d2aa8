"""AWS entry points: Chalice schedules and routes. Each one parses, calls a service, renders."""

from __future__ import annotations

from chalice import Chalice

app = Chalice(app_name="burst-assurance")
