"""The HTTP API: one router per resource under `routes`, gathered in `main.api_routers`."""
