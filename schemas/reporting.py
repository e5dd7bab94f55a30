"""Reporting wire formats (camelCase, as BricksLLM): Retrieve Metrics, top keys, and the id lists
of a key."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.common import (
    StrictBoolean,
    StrictInteger,
    StrictString,
    WireSchema,
    plain_text,
    text_list,
)

GROUP_BY = ("model", "keyId", "customId", "userId")
_UNIX_SECONDS = validate.Range(min=0, max=2**62)


class _Window(WireSchema):
    start = StrictInteger(required=True, validate=_UNIX_SECONDS,
                          metadata={"description": "unix seconds, inclusive"})  # fmt: skip
    end = StrictInteger(required=True, validate=_UNIX_SECONDS,
                        metadata={"description": "unix seconds, inclusive"})  # fmt: skip

    @validates_schema
    def _window(self, data: dict[str, Any], **_: Any) -> None:
        if data["start"] >= data["end"]:
            raise ValidationError("start must be before end", "end")


class MetricsRequestSchema(_Window):
    """`POST /api/reporting/events`: start, end and increment are required; every list narrows
    the events (tags: events carrying every tag); `filters` groups the data points."""

    keyIds = text_list()
    tags = text_list()
    customIds = text_list()
    userIds = text_list()
    filters = fields.List(StrictString(validate=validate.OneOf(GROUP_BY)))
    increment = StrictInteger(required=True, validate=validate.Range(min=1, max=2**31 - 1),
                              metadata={"description": "bucket width in seconds"})  # fmt: skip


class DataPointSchema(WireSchema):
    timeStamp = fields.Integer(metadata={"description": "start of the bucket, unix seconds"})
    numberOfRequests = fields.Integer()
    costInUsd = fields.Float()
    latencyInMs = fields.Integer(metadata={"description": "sum of the latencies of the bucket"})
    promptTokenCount = fields.Integer()
    completionTokenCount = fields.Integer()
    successCount = fields.Integer(metadata={"description": "events with a 2xx status"})
    keyId = fields.String()
    model = fields.String()
    customId = fields.String()
    userId = fields.String()


class MetricsSchema(WireSchema):
    dataPoints = fields.List(fields.Nested(DataPointSchema))
    latencyInMsMedian = fields.Float()
    latencyInMs99th = fields.Float()


class TopKeysRequestSchema(_Window):
    """`POST /api/reporting/top-keys`: keys by spend within the window; the key filters (tags:
    every tag, name: substring, revoked) select among the stored keys."""

    keyIds = text_list()
    tags = text_list()
    name = plain_text(512)
    revoked = StrictBoolean(allow_none=True)
    limit = StrictInteger(validate=validate.Range(min=1, max=10000))
    offset = StrictInteger(validate=validate.Range(min=0, max=2**31 - 1), load_default=0)
    order = StrictString(validate=validate.OneOf(("asc", "desc")), load_default="desc")


class KeySpendSchema(WireSchema):
    keyId = fields.String()
    costInUsd = fields.Float()


class TopKeysSchema(WireSchema):
    dataPoints = fields.List(fields.Nested(KeySpendSchema))


class KeyIdQuerySchema(WireSchema):
    keyId = plain_text(required=True)
