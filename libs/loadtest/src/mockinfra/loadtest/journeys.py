"""What a synthetic visitor does, with the seed's contract and realistic weights.

Reads dominate (the cached data listing most of all), writes are a minority, and the explicit
`/error/{code}` pages are rare. Every request carries `X-Synthetic: locust` so logs and metrics
can tell load-test traffic apart, and is named by its route template so statistics group by
endpoint. Any status >= 400 is a failure (injected errors are what an agent must see); its
message says whether the service marked it `X-Fault-Injected`.
"""

from __future__ import annotations

import random
from typing import Any, Final

from locust import FastHttpUser, between, task

from mockinfra.loadtest import routes

HEADERS: Final = {routes.SYNTHETIC_HEADER: routes.SYNTHETIC_VALUE, "Accept": "application/json"}
ERROR_CODES: Final = ("404", "500", "502", "503")  # not `timeout`: it holds a user for 10 s
QUEUE_TYPES: Final = ("email", "report", "thumbnail", "webhook")
PRIORITIES: Final = ("high", "medium", "low")
PRIORITY_WEIGHTS: Final = (1, 3, 6)
MAX_OWNED: Final = 20  # ids a user remembers to update or delete later


class Visitor(FastHttpUser):
    """One person (or script) using the site and its JSON API through nginx."""

    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.owned: list[int] = []

    def _call(
        self, method: str, path: str, *, name: str, json: Any = None
    ) -> dict[str, Any] | None:
        """One request, marked synthetic, failed on any error status; the JSON body if any."""
        with self.client.request(
            method, path, name=name, headers=HEADERS, json=json, catch_response=True
        ) as resp:
            status = resp.status_code or 0
            if status == 0 or status >= 400:
                resp.failure(routes.failure_message(status, resp.headers.get(routes.FAULT_HEADER)))
                return None
            resp.success()
            try:
                body = resp.json()
            except ValueError:  # HTML pages
                return None
            return body if isinstance(body, dict) else None

    @task(10)
    def home(self) -> None:
        self._call("GET", "/", name=routes.HOME)

    @task(4)
    def frontend_data(self) -> None:
        self._call("GET", "/api/data", name=routes.FRONT_DATA)

    @task(3)
    def frontend_users(self) -> None:
        self._call("GET", "/api/users", name=routes.FRONT_USERS)

    @task(20)
    def list_data_cached(self) -> None:
        self._call("GET", "/api/backend/data?limit=100&offset=0", name=routes.DATA)

    @task(3)
    def list_data_nocache(self) -> None:
        offset = random.randrange(0, 200, 20)
        path = f"/api/backend/data?limit=50&offset={offset}&nocache=true"
        self._call("GET", path, name=routes.DATA_NOCACHE)

    @task(4)
    def create_data(self) -> None:
        body = {
            "name": f"locust-{random.randrange(10**6)}",
            "value": round(random.uniform(1, 1000), 2),
            "metadata": {"source": "locust", "batch": random.randrange(10)},
        }
        created = self._call("POST", "/api/backend/data", name=routes.DATA, json=body)
        if created and isinstance(created.get("id"), int) and len(self.owned) < MAX_OWNED:
            self.owned.append(created["id"])

    @task(2)
    def update_data(self) -> None:
        if not self.owned:
            return self.create_data()
        item = random.choice(self.owned)
        body = {"value": round(random.uniform(1, 1000), 2), "status": "active"}
        self._call("PUT", f"/api/backend/data/{item}", name=routes.DATA_ITEM, json=body)

    @task(1)
    def delete_data(self) -> None:
        if not self.owned:
            return self.create_data()
        item = self.owned.pop(random.randrange(len(self.owned)))
        self._call("DELETE", f"/api/backend/data/{item}", name=routes.DATA_ITEM)

    @task(4)
    def users_page(self) -> None:
        page = random.randint(1, 5)
        self._call("GET", f"/api/backend/users?page={page}&limit=20", name=routes.USERS)

    @task(2)
    def status(self) -> None:
        self._call("GET", "/api/backend/status", name=routes.STATUS)

    @task(4)
    def enqueue(self) -> None:
        body = {
            "type": random.choice(QUEUE_TYPES),
            "payload": {"source": "locust", "n": random.randrange(1000)},
            "priority": random.choices(PRIORITIES, PRIORITY_WEIGHTS)[0],
        }
        self._call("POST", "/api/backend/queue", name=routes.QUEUE, json=body)

    @task(1)
    def error_page(self) -> None:
        self._call("GET", f"/error/{random.choice(ERROR_CODES)}", name=routes.FRONT_ERROR)
