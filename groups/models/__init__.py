"""The groups app's models: issues and events, and the telemetry stored beside them."""

from groups.models.apicalls import ApiCall
from groups.models.attachments import Attachment, UserReport
from groups.models.issues import (
    SHORT_ID_ALPHABET,
    Event,
    Group,
    GroupHash,
    GroupStatus,
    GroupSubstatus,
    GroupTagValue,
    GroupUser,
    Level,
    ShortIdCounter,
    base32_decode,
    base32_encode,
)
from groups.models.telemetry import LogRecord, Span

__all__ = [
    "SHORT_ID_ALPHABET",
    "ApiCall",
    "Attachment",
    "Event",
    "Group",
    "GroupHash",
    "GroupStatus",
    "GroupSubstatus",
    "GroupTagValue",
    "GroupUser",
    "Level",
    "LogRecord",
    "ShortIdCounter",
    "Span",
    "UserReport",
    "base32_decode",
    "base32_encode",
]
