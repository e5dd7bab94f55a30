"""Stage 5: the key's policy on the outgoing call (block or redact personal data).

The slot the policy stage fills: it inspects the call's texts and answers the call to forward
(the same one, or one with a redacted body: `dataclasses.replace(call, body=..., parsed=...)`),
or raises a 403 `request blocked`. The event row keeps the body of the call it answers, so a
redacted prompt is never stored. Until policies exist, every call passes unchanged.
"""

from __future__ import annotations

from app.proxy.context import RequestContext
from app.proxy.outgoing import OutgoingCall


def apply_policy(ctx: RequestContext, call: OutgoingCall) -> OutgoingCall:
    return call
