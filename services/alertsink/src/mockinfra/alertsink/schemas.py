"""Alertmanager's webhook payload (version 4) and the receiver's own responses."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AlertStatus = Literal["firing", "resolved"]


class WebhookAlert(BaseModel):
    """One alert inside a notification."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    # Alertmanager sends "0001-01-01T00:00:00Z" for a firing alert: kept as sent.
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL", max_length=4096)
    fingerprint: str = Field(default="", max_length=64)


class WebhookPayload(BaseModel):
    """A notification as Alertmanager posts it (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    version: str = "4"
    group_key: str = Field(default="", alias="groupKey", max_length=4096)
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)
    status: AlertStatus
    receiver: str = Field(default="", max_length=256)
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL", max_length=4096)
    alerts: list[WebhookAlert] = Field(min_length=1, max_length=1000)


class WebhookAck(BaseModel):
    stored: int
    forwarded: bool  # a forward was scheduled (it runs after the response)


class StoredAlert(BaseModel):
    """One row: one alert of one notification."""

    id: int
    status: AlertStatus
    alertname: str
    instance: str
    service: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    fingerprint: str
    receiver: str
    group_key: str
    received_at: datetime


class AlertList(BaseModel):
    alerts: list[StoredAlert]
    count: int
