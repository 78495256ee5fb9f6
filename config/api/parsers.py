"""Request body parsers for /api/0/: DRF's, answering 400 where they would let a 500 through.

DRF's JSON parser turns only a ValueError into a 400: a body nested deeper than the decoder
recurses raises RecursionError. And every parser passes on lone surrogates (U+D800 to U+DFFF
alone), which JSON escapes (`"\\ud800"`) and some charsets a client may name (`unicode_escape`,
`utf-7`) decode to: such a string cannot be encoded as UTF-8, so it fails later, in a database
query or while rendering an error that echoes it. I-JSON (RFC 7493 §2.1) refuses them too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from typing import IO, Any

from django.utils.datastructures import MultiValueDict
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

_SURROGATE = re.compile(r"[\ud800-\udfff]")
# What can decode to a lone surrogate: a \u escape of one, or one the charset produced. A valid
# pair ("\ud83d\ude00") or an escaped backslash ("\\ud800") matches too, and is let through
# once the decoded strings are checked.
_MAYBE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")
_LONE_SURROGATE = "lone surrogate in a string; text must be valid Unicode"


def _has_surrogate(strings: Iterable[str]) -> bool:
    return any(_SURROGATE.search(string) for string in strings)


def _json_strings(data: object) -> Iterator[str]:
    """Every string in decoded JSON, keys included. Not recursive: a body nested nearly as deep
    as the decoder allows would overflow the stack here."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def _form_strings(form: MultiValueDict) -> Iterator[str]:
    """Every field name and value of a form. Uploads are left out: Django keeps only the
    printable characters of a file's name, and a surrogate is not one."""
    for name, values in form.lists():
        yield name
        yield from (value for value in values if isinstance(value, str))


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; too deep a body or a lone surrogate is a 400 too."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        # As DRF's parse(), whose json.load() reads the whole body at once too; decoding here
        # keeps the text, for a quick search before looking for surrogates string by string.
        encoding = parsers.get_encoding(parser_context or {})
        parse_constant = json.strict_constant if self.strict else None
        try:
            text = stream.read().decode(encoding)
            data = json.loads(text, parse_constant=parse_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        if _MAYBE_SURROGATE.search(text) and _has_surrogate(_json_strings(data)):
            raise ParseError(f"JSON parse error - {_LONE_SURROGATE}")
        return data


class FormParser(parsers.FormParser):
    """DRF's form parser; a lone surrogate (from the charset the client names) is a 400."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> MultiValueDict:
        data = super().parse(stream, media_type, parser_context)
        if _has_surrogate(_form_strings(data)):
            raise ParseError(f"Form parse error - {_LONE_SURROGATE}")
        return data


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser; a lone surrogate in a field's name or value is a 400."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> parsers.DataAndFiles:
        parsed = super().parse(stream, media_type, parser_context)
        if _has_surrogate(chain(_form_strings(parsed.data), _form_strings(parsed.files))):
            for _, uploads in parsed.files.lists():
                for upload in uploads:
                    upload.close()
            raise ParseError(f"Multipart form parse error - {_LONE_SURROGATE}")
        return parsed
