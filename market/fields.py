"""Field types shared by request schemas: ids that fit the database, plain text, and dates and
moments in the range the product computes with.

Ids are 32-bit integer columns on PostgreSQL, and PostgreSQL text cannot hold a NUL character;
the other C0 control characters but tab, line feed and carriage return cannot be written to an
Excel file (openpyxl refuses them: a statement download was a 500). Text is PLAIN_TEXT, without
any of them; checking at the edge turns such input into a 400, not a 500.

Dates far out (9999-12-31, 0001-01-01) overflow as soon as they are moved to UTC or
to local time (`0001-01-01T00:00:00+14:00`), or shown with a countdown, and mean
nothing to a neighbourhood service. So every date and moment a request carries, in
its body or its query, is a `Day` or a `Moment` (`query_day` / `query_moment`): from
2000-01-01 to 2099-12-31, a moment in whatever UTC offset it is written (+14:00 and
-12:00 included), up to the end of 2099-12-31 (midnight, where a period "before" it
ends). Both are checked as the value is decoded - by Litestar for the API (through the
classes' `_decoder`, the per-type hook its parameter and body parsing looks up) and by
`pages.parse` for the pages (`decode` as msgspec's `dec_hook`) - so an out-of-range
value is a 400 naming its field, before any handler runs.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

import msgspec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema
from litestar.params import PathParameter, QueryParameter

ID_MAX = 2**31 - 1
# The C0 control characters but tab, line feed and carriage return (openpyxl's illegal characters).
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f"
PLAIN_TEXT = rf"^[^{_CONTROL}]*$"
NOT_BLANK = rf"^[^{_CONTROL}]*[^{_CONTROL}\s][^{_CONTROL}]*$"

Id = Annotated[int, msgspec.Meta(ge=1, le=ID_MAX)]
PathId = Annotated[int, PathParameter(ge=1, le=ID_MAX)]

EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)
# The message of every out-of-range refusal; the pages recognise it (see `pages.parse`).
OUT_OF_RANGE = f"Dates must lie from {EARLIEST} to {LATEST}"
_FIRST_MOMENT = datetime.combine(EARLIEST, time.min)
_END_MOMENT = datetime.combine(LATEST + timedelta(days=1), time.min)


def query_id(description: str) -> Any:
    return Annotated[int | None, QueryParameter(ge=1, le=ID_MAX, description=description)]


def path_text(max_length: int) -> Any:
    """A path segment of text (an id chosen by a client): not empty, plain text, not too long."""
    return Annotated[str, PathParameter(min_length=1, max_length=max_length, pattern=PLAIN_TEXT)]


def query_text(max_length: int, description: str = "") -> Any:
    return Annotated[
        str | None, QueryParameter(max_length=max_length, pattern=PLAIN_TEXT, description=description)
    ]


def text(max_length: int, *, required: bool = False) -> Any:
    """A string of at most `max_length` characters; `required` ones must not be blank."""
    if required:
        return Annotated[str, msgspec.Meta(min_length=1, max_length=max_length, pattern=NOT_BLANK)]
    return Annotated[str, msgspec.Meta(max_length=max_length, pattern=PLAIN_TEXT)]


def decode(type_: type, value: Any) -> Any:
    """msgspec's `dec_hook` for `Day` and `Moment`: the value (an ISO 8601 string, or a date or
    datetime already made) checked and as an instance of `type_`. Raises ValueError, which msgspec
    reports as a validation error at the field."""
    if type_ is RangedMoment:
        moment = value if isinstance(value, datetime) else _parse(value, datetime, "a date and time")
        if moment.tzinfo is None:
            raise ValueError("Expected a date and time with a UTC offset (ISO 8601)")
        # The moment as written, whatever its offset: the time the person meant.
        if not _FIRST_MOMENT <= moment.replace(tzinfo=None) <= _END_MOMENT:
            raise ValueError(OUT_OF_RANGE)
        return RangedMoment.combine(moment.date(), moment.timetz())
    if type_ is RangedDate:
        day = value if _is_date(value) else _parse(value, date, "a date")
        if not EARLIEST <= day <= LATEST:
            raise ValueError(OUT_OF_RANGE)
        return RangedDate.fromordinal(day.toordinal())
    raise NotImplementedError(f"no decoder for {type_!r}")


def _is_date(value: Any) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _parse(value: Any, type_: type, what: str) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"Expected {what} as an ISO 8601 string")
    try:
        return msgspec.convert(value, type_)
    except msgspec.ValidationError:
        raise ValueError(f"Expected {what} in ISO 8601 form") from None


class RangedMoment(datetime):
    """A moment with a UTC offset, from 2000-01-01 to the end of 2099-12-31 as written."""

    _decoder = staticmethod(decode)


class RangedDate(date):
    """A calendar date from 2000-01-01 to 2099-12-31."""

    _decoder = staticmethod(decode)


RANGED_TYPES = (RangedMoment, RangedDate)
_MOMENT_SCHEMA = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME)
_DAY_SCHEMA = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE)
_MOMENT_TEXT = f"ISO 8601 with a UTC offset, from {EARLIEST} to {LATEST}"
_DAY_TEXT = f"YYYY-MM-DD, from {EARLIEST} to {LATEST}"

# What the API documents for them (Litestar knows nothing of the classes themselves).
Moment = Annotated[
    RangedMoment,
    msgspec.Meta(
        description=_MOMENT_TEXT,
        extra_json_schema={"extra": {"type": _MOMENT_SCHEMA.type, "format": _MOMENT_SCHEMA.format}},
    ),
]
Day = Annotated[
    RangedDate,
    msgspec.Meta(
        description=_DAY_TEXT,
        extra_json_schema={"extra": {"type": _DAY_SCHEMA.type, "format": _DAY_SCHEMA.format}},
    ),
]


def query_moment(description: str) -> Any:
    return Annotated[
        RangedMoment | None,
        QueryParameter(
            description=f"{description} ({_MOMENT_TEXT})",
            schema_extra={"one_of": [_MOMENT_SCHEMA, Schema(type=OpenAPIType.NULL)]},
        ),
    ]


def query_day(description: str) -> Any:
    return Annotated[
        RangedDate | None,
        QueryParameter(
            description=f"{description} ({_DAY_TEXT})",
            schema_extra={"one_of": [_DAY_SCHEMA, Schema(type=OpenAPIType.NULL)]},
        ),
    ]
