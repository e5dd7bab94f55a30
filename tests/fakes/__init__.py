"""Real local fakes used by the test suite in place of mocks (see DESIGN.md, "Tests")."""

from tests.fakes.upstream import FakeUpstream, RecordedRequest, Reply, sse_data, sse_event

__all__ = ["FakeUpstream", "RecordedRequest", "Reply", "sse_data", "sse_event"]
