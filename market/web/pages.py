"""What every page handler shares: rendering in the person's language, forms that
keep what was typed and show errors next to the field, redirects, and HTML error
pages instead of problem+json.

A page handler parses and authorises like an API route and calls the same
services. A refused form rolls the request's transaction back, builds the page again
and raises `FormRejected`, which renders it with the form's errors.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from types import SimpleNamespace
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.params import Body
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.response import Redirect, Response, Template
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import AreaLevel, code_length
from market.auth.access import COMMUNITY_MANAGER_ROLES, RESTRICTIONS, Actor
from market.auth.models import MANAGER_ROLES, Role
from market.categories.service import list_categories
from market.consultation.models import PROPOSAL_MACHINE
from market.errors import Busy, MarketError, as_problem, lost_a_race
from market.fields import EARLIEST, LATEST, OUT_OF_RANGE, RangedMoment, decode
from market.orders.models import OFFER_MACHINE, ORDER_MACHINE
from market.party.models import REPORT_MACHINE
from market.projects.models import PROJECT_MACHINE
from market.shifts.models import SHIFT_MACHINE, SIGNUP_MACHINE
from market.web.i18n import HTML_LANG, LANGS, Message, has_text, lang_of, translate
from market.wishes.models import WISH_MACHINE

log = logging.getLogger(__name__)

S = TypeVar("S", bound=msgspec.Struct)

LOGIN_PATH = "/login"

# The body of a submitted page form.
FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
# The value of a `datetime-local` input.
LOCAL_INPUT = "%Y-%m-%dT%H:%M"
# Where a refused confirmation's error shows, on the resident's form and on a manager's for them.
CONFIRM_FIELDS = {"complaint_needs_comment": "comment"}
COMPOUND = code_length(AreaLevel.compound)


@dataclass(frozen=True, slots=True)
class Section:
    """An entry of the navigation: a catalogue key and where it goes."""

    key: str
    href: str

    @property
    def phone(self) -> bool:
        """Sections for residents and volunteers, shown in the phone layout's tab bar."""
        return not (self.href == "/desk" or self.href.startswith("/desk/"))


# Phone sections first, desk sections after; each shown to the roles listed.
_SECTIONS: list[tuple[Section, frozenset[Role]]] = [
    (Section("nav.my_orders", "/r/orders"), frozenset({Role.resident})),
    (Section("nav.new_order", "/r/orders/new"), frozenset({Role.resident})),
    (Section("nav.wishes", "/r/wishes"), frozenset({Role.resident, Role.volunteer})),
    (Section("nav.volunteer_apply", "/r/volunteer"), frozenset({Role.resident})),
    (Section("nav.community_needs", "/r/needs"), frozenset({Role.resident})),
    (Section("nav.credit", "/r/credit"), frozenset({Role.resident, Role.volunteer})),
    (Section("nav.party", "/r/party"), frozenset({Role.resident, Role.volunteer})),
    (Section("nav.informant_reports", "/i/reports"), frozenset({Role.informant})),
    (Section("nav.offers", "/v/offers"), frozenset({Role.volunteer})),
    (Section("nav.board", "/v/board"), frozenset({Role.volunteer})),
    (Section("nav.tasks", "/v/tasks"), frozenset({Role.volunteer})),
    (Section("nav.shifts", "/v/shifts"), frozenset({Role.volunteer})),
    (Section("nav.points", "/v/points"), frozenset({Role.volunteer})),
    (Section("nav.rewards", "/v/rewards"), frozenset({Role.volunteer})),
    (Section("nav.record", "/v/record"), frozenset({Role.volunteer})),
    (Section("nav.profile", "/v/profile"), frozenset({Role.volunteer})),
    (Section("nav.overview", "/desk"), MANAGER_ROLES),
    (Section("nav.dispatch", "/desk/dispatch"), MANAGER_ROLES),
    (Section("nav.enter_order", "/desk/orders/new"), MANAGER_ROLES),
    (Section("nav.followups", "/desk/followups"), MANAGER_ROLES),
    (Section("nav.projects", "/desk/projects"), MANAGER_ROLES),
    (Section("nav.ledger", "/desk/ledger"), MANAGER_ROLES),
    (Section("nav.reports", "/desk/reports"), MANAGER_ROLES),
    (Section("nav.records", "/desk/records"), MANAGER_ROLES),
    (Section("nav.certificates", "/desk/certificates"), COMMUNITY_MANAGER_ROLES),
    (Section("nav.honour_roll", "/desk/honour-roll"), MANAGER_ROLES),
    (Section("nav.units", "/desk/units"), COMMUNITY_MANAGER_ROLES),
    (Section("nav.teams", "/desk/teams"), COMMUNITY_MANAGER_ROLES),
    (Section("nav.party_desk", "/desk/party"), COMMUNITY_MANAGER_ROLES),
    (Section("nav.unit_reviews", "/desk/unit-reviews"), COMMUNITY_MANAGER_ROLES | {Role.unit_admin}),
    (Section("nav.credit_roll", "/desk/credit"), MANAGER_ROLES),
    (Section("nav.unit", "/desk/unit"), frozenset({Role.unit_admin})),
    (Section("nav.failed_attempts", "/desk/failed-attempts"), frozenset({Role.street_admin})),
    (Section("nav.open311", "/desk/open311"), frozenset({Role.street_admin})),
    (Section("nav.areas", "/desk/areas"), MANAGER_ROLES),
    (Section("nav.budgets", "/desk/budgets"), COMMUNITY_MANAGER_ROLES),
    (Section("nav.policy", "/desk/policy"), COMMUNITY_MANAGER_ROLES),
    (
        Section("nav.auto_dispatch", "/desk/auto-dispatch"),
        COMMUNITY_MANAGER_ROLES,
    ),
    (Section("nav.categories", "/desk/categories"), frozenset()),
    (Section("nav.people", "/desk/people"), MANAGER_ROLES),
    (Section("nav.approvals", "/desk/approvals"), MANAGER_ROLES),
]

# Where each role lands after logging in, the first role a person holds deciding: the desk's
# overview for those who manage an area, handing out rewards for a unit's admins, new offers for
# volunteers, their orders for residents.
_HOMES: list[tuple[frozenset[Role], str]] = [
    (MANAGER_ROLES, "/desk"),
    (frozenset({Role.unit_admin}), "/desk/unit/fulfil"),
    (frozenset({Role.volunteer}), "/v/offers"),
    (frozenset({Role.informant}), "/i/reports"),
    (frozenset({Role.resident}), "/r/orders"),
]


def sections(actor: Actor | None) -> list[Section]:
    if actor is None:
        return []
    return [s for s, roles in _SECTIONS if actor.is_admin or not actor.roles.isdisjoint(roles)]


def current_section(found: list[Section], path: str) -> Section | None:
    """The section a page belongs to: the one whose path is the longest prefix of the page's."""
    matching = [s for s in found if path == s.href or path.startswith(s.href + "/")]
    return max(matching, key=lambda s: len(s.href), default=None)


def home_path(actor: Actor) -> str:
    """Where a person lands after logging in (see `_HOMES`), or, for a person who must settle
    something first, the page that settles it."""
    if actor.restriction is not None:
        return RESTRICTIONS[actor.restriction]
    for roles, path in _HOMES:
        if actor.is_admin or not actor.roles.isdisjoint(roles):
            return path
    return LOGIN_PATH


def _actor(connection: ASGIConnection) -> Actor | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Actor) else None


def _local(tz: ZoneInfo, moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored moment in local time. Never fails, whatever is stored: a moment too far out to move
    to local time (year 1, year 9999: stored before dates were checked) is shown as stored, in UTC."""
    if moment is None:
        return ""
    with suppress(OverflowError):
        moment = moment.astimezone(tz)
    # strftime writes year 1 as "1"; dates (and date inputs) take four digits.
    return moment.strftime(fmt.replace("%Y", f"{moment.year:04d}"))


def local_input(moment: datetime | None, tz: ZoneInfo) -> str:
    """A moment as the value of a `datetime-local` input (local time, to the minute)."""
    return _local(tz, moment, LOCAL_INPUT)


def place_name(code: str, name: str, names: Mapping[str, str]) -> str:
    """A place as people find it: a building with its compound ("Garden 1 · Building 3"), anything
    else by its own name. `names` maps area codes to names and holds the place's compound."""
    compound = code[:COMPOUND]
    return f"{names[compound]} · {name}" if compound != code and compound in names else name


def url(path: str, **query: Any) -> str:
    """`path` with the non-empty query values, for links that keep a page's filters."""
    kept = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept, doseq=True)}" if kept else path


def word_options(lang: str, prefix: str, values: Iterable[str]) -> list[tuple[str, str]]:
    """(value, label) pairs for a select of domain words (`prefix.value` in the catalogue)."""
    return [(v, translate(lang, f"{prefix}.{v}")) for v in values]


# The state machines' tables (market.state_machine), by what they move.
MACHINES = SimpleNamespace(
    order=ORDER_MACHINE,
    offer=OFFER_MACHINE,
    wish=WISH_MACHINE,
    project=PROJECT_MACHINE,
    proposal=PROPOSAL_MACHINE,
    shift=SHIFT_MACHINE,
    signup=SIGNUP_MACHINE,
    report=REPORT_MACHINE,
)


def base_context(request: ASGIConnection) -> dict[str, Any]:
    lang = lang_of(request)
    actor = _actor(request)
    found = sections(actor)
    tz: ZoneInfo = request.app.state.settings.tz
    clock = request.app.state.clock
    notice = request.query_params.get("notice", "")
    path_with_query = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {
        "lang": lang,
        "html_lang": HTML_LANG[lang],
        "other_langs": [code for code in LANGS if code != lang],
        "t": partial(translate, lang),
        # Whether the catalogue has a word for a value (an order's channel may be an Open311 system's name).
        "has_text": has_text,
        "actor": actor,
        "sections": found,
        "current_path": request.url.path,
        "current_section": current_section(found, request.url.path),
        "here": quote(path_with_query, safe=""),
        "notice": f"notice.{notice}" if has_text(f"notice.{notice}") else None,
        "local": partial(_local, tz),
        # Seconds from the service's clock to a moment: countdowns count from these, not from the
        # phone's own clock, which may be wrong.
        "seconds_until": lambda moment: max(0, int((moment - clock()).total_seconds())),
        "url": url,
        # Which actions a state allows, for the buttons: `machines.order.actions_from(order.status)`.
        "machines": MACHINES,
    }


def page(request: ASGIConnection, template: str, *, status_code: int = 200, **context: Any) -> Template:
    return Template(template_name=template, context=base_context(request) | context, status_code=status_code)


async def category_names(session: AsyncSession, lang: str, *, active_only: bool = False) -> dict[str, str]:
    """Service categories by code, named in the page's language (their names live in the database)."""
    return {
        c.code: c.name_zh if lang == "zh" else c.name_en
        for c in await list_categories(session)
        if c.is_active or not active_only
    }


def see_other(path: str, notice: str | None = None) -> Redirect:
    """Post/redirect/get: after a form succeeds, show the next page with a notice."""
    if notice:
        path += ("&" if "?" in path else "?") + urlencode({"notice": notice})
    return Redirect(path, status_code=303)


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to return to; anything that could leave the site becomes `default`."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


# Forms ------------------------------------------------------------------------------------------


@dataclass
class Form:
    """What the person typed, and what is wrong with it (messages not yet translated)."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, Message] = field(default_factory=dict)
    problems: list[Message] = field(default_factory=list)

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> Form:
        return cls({k: v for k, v in (data or {}).items() if k != "_csrf_token"})

    def value(self, name: str, default: Any = "") -> Any:
        value = self.values.get(name, default)
        return value[-1] if isinstance(value, list) else value

    def all(self, name: str) -> list[str]:
        """Every value of a field that may repeat (checkboxes, multiple selects)."""
        value = self.values.get(name, [])
        return value if isinstance(value, list) else [value]

    def error(self, name: str) -> Message | None:
        return self.errors.get(name)

    def refuse(self, error: MarketError, fields: Mapping[str, str]) -> None:
        """Put a service's refusal next to the field it is about, or above the form."""
        key = f"error.{error.code}"
        message: Message = (key, {}) if has_text(key) else _status_text(error)
        name = fields.get(error.code)
        if name:
            self.errors[name] = message
        else:
            self.problems.append(message)


class FormRejected(MarketError):
    """A form that cannot be accepted as typed: rendered again with its errors (see `handling`)."""

    def __init__(
        self, template: str, context: Mapping[str, Any], form: Form, *, cause: MarketError | None = None
    ) -> None:
        self.template = template
        self.context = {**context, "form": form}
        super().__init__("The form has errors", code=cause.code if cause else "invalid_input")
        self.status_code = cause.status_code if cause else HTTP_400_BAD_REQUEST


_LOCAL_MINUTE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


def _field_message(error: msgspec.ValidationError) -> Message:
    text = str(error)
    if OUT_OF_RANGE in text:
        return ("form.date_range", {"earliest": EARLIEST.year, "latest": LATEST.year})
    if "length <=" in text:
        return ("form.too_long", {"max": re.search(r"length <= (\d+)", text).group(1)})  # type: ignore[union-attr]
    if "length >=" in text:
        return ("form.required", {})
    bounds = re.findall(r"[<>]=? ([-\d.]+)", text)
    if bounds:
        return ("form.out_of_range", {})
    return ("form.invalid", {})


_COLLECTIONS = (
    msgspec.inspect.ListType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
    msgspec.inspect.VarTupleType,
    msgspec.inspect.TupleType,
)


def _kinds(annotation: Any) -> list[msgspec.inspect.Type]:
    """What a schema's field may hold (each arm of an optional or a union)."""
    info = msgspec.inspect.type_info(annotation)
    types = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    return [t.type if isinstance(t, msgspec.inspect.Metadata) else t for t in types]


def _repeats(annotation: Any) -> bool:
    """Whether a schema's field holds several values (also when it may be None)."""
    return any(isinstance(t, _COLLECTIONS) for t in _kinds(annotation))


def _takes_moment(annotation: Any) -> bool:
    return any(
        isinstance(t, msgspec.inspect.CustomType) and t.cls is RangedMoment for t in _kinds(annotation)
    )


def form_int(form: Form, name: str, *, le: int) -> int | None:
    """A whole number the page sent itself (a list's offset, a chosen id): None when the field is
    missing, holds anything else, or a number above `le`."""
    value = str(form.value(name))
    # `isdecimal`, not `isdigit`: int() refuses "²"; and no int() of thousands of digits.
    if value.isdecimal() and len(value) <= len(str(le)) and int(value) <= le:
        return int(value)
    return None


def parse(form: Form, schema: type[S], tz: ZoneInfo, **given: Any) -> S:
    """The form as a request schema, every field checked so that every error is shown at once.

    `given` fills fields the form does not carry (ids from the path, values the page computes).
    A field of several values (a list, a set) takes every value sent under its name (checkboxes);
    a `datetime-local` input (no offset) is read as local time in `tz`; dates and moments out of
    the product's range (market/fields.py) are refused next to their field. Raises `FormInvalid`.
    """
    raw: dict[str, Any] = {}
    for info in msgspec.structs.fields(schema):
        name = info.encode_name
        if name in given:
            if given[name] is not None:
                raw[name] = given[name]
            continue
        value = form.all(name) if _repeats(info.type) else form.values.get(name)
        if value in (None, [], "") or (isinstance(value, str) and not value.strip()):
            if info.required:
                form.errors[name] = ("form.required", {})
            continue
        if isinstance(value, str) and _takes_moment(info.type) and _LOCAL_MINUTE.match(value):
            try:
                value = datetime.fromisoformat(value).replace(tzinfo=tz)
            except ValueError:
                form.errors[name] = ("form.invalid", {})
                continue
        try:
            raw[name] = msgspec.convert(value, info.type, strict=False, dec_hook=decode)
        except msgspec.ValidationError as error:
            form.errors[name] = _field_message(error)
    if form.errors:
        raise FormInvalid
    try:
        return msgspec.convert(raw, schema, strict=False, dec_hook=decode)
    except msgspec.ValidationError as error:
        form.problems.append(_field_message(error))
        raise FormInvalid from error


class FormInvalid(Exception):
    """The form's own checks failed; the errors are on the form."""


# What a form's page shows besides the form: built only when the form is refused (async or not).
PageContext = Callable[[], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]


@asynccontextmanager
async def handling(
    session: AsyncSession,
    form: Form,
    template: str,
    context: PageContext,
    *,
    fields: Mapping[str, str] | None = None,
    shown: Collection[str] | None = None,
) -> AsyncIterator[None]:
    """Run a form's work; on invalid input or a service's refusal, render `template` again.

    The page is built by `context` only then, once the refused work is rolled back (or kept,
    for refusals that are facts, such as a wrong pickup code), so that it shows what is.
    `fields` maps refusal codes to the field they are about (`window_in_past` → `window_start`).
    `shown` names the fields the template shows an error next to, when some are not (hidden
    inputs, a button's value): errors about the others are shown above the form instead.
    """
    cause: MarketError | None = None
    try:
        yield
    except FormInvalid:
        pass
    except FormRejected:
        raise
    except MarketError as error:
        cause = error
        form.refuse(error, fields or {})
    else:
        return
    _unhide(form, shown)
    await (session.commit() if cause and cause.keep_changes else session.rollback())
    built = context()
    if inspect.isawaitable(built):
        built = await built
    raise FormRejected(template, built, form, cause=cause) from cause


def _unhide(form: Form, shown: Collection[str] | None) -> None:
    """Move the errors of fields the page does not show to the top of the form."""
    if shown is None:
        return
    for name in [n for n in form.errors if n not in shown]:
        form.problems.append(form.errors.pop(name))


# Errors as pages --------------------------------------------------------------------------------


def _status_text(error: HTTPException) -> Message:
    key = f"error.http_{error.status_code}"
    return (key, {}) if has_text(key) else ("error.http_other", {})


def _error_page(request: Request, error: HTTPException) -> Template:
    code = getattr(error, "code", None)
    if code is None and isinstance(error.extra, dict):
        code = error.extra.get("code")
    message = (f"error.{code}", {}) if code and has_text(f"error.{code}") else _status_text(error)
    return page(request, "error.html", status_code=error.status_code, message=message)


def _on_form_rejected(request: Request, error: FormRejected) -> Template:
    return page(request, error.template, status_code=error.status_code, **error.context)


def _on_not_authenticated(request: Request, _error: NotAuthorizedException) -> Redirect:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(url(LOGIN_PATH, next=target), status_code=303)


def _on_http_error(request: Request, error: HTTPException) -> Template | Redirect:
    code = getattr(error, "code", None)
    if code in RESTRICTIONS:
        # A person who must change their password, or whose sign-up waits, goes where that is settled.
        return Redirect(RESTRICTIONS[code], status_code=303)
    return _error_page(request, error)


def _on_unexpected(request: Request, error: Exception) -> Template:
    if lost_a_race(error):  # every attempt lost (market/unit_of_work.py): a busy moment, not a fault
        return page(
            request,
            "error.html",
            status_code=HTTP_503_SERVICE_UNAVAILABLE,
            message=(f"error.{Busy.default_code}", {}),
        )
    log.exception("unexpected error on a page", exc_info=error)
    return page(
        request,
        "error.html",
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        message=("error.http_500", {}),
    )


def wants_page(request: Request) -> bool:
    """A browser asking for a page: outside the API, and HTML accepted."""
    return not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", "")


def on_unknown_path(request: Request, error: HTTPException) -> Response:
    """An unknown path (no route at all, so no router's handlers apply): a page in the person's
    language for a browser, problem+json for everyone else and everything under /api."""
    if wants_page(request):
        return _error_page(request, error)
    return as_problem(error).to_response(request)


# The pages' router answers every error with a page in the person's language.
PAGE_EXCEPTION_HANDLERS: dict[type[Exception], Callable[..., Any]] = {
    FormRejected: _on_form_rejected,
    NotAuthorizedException: _on_not_authenticated,
    ProblemDetailsException: _on_http_error,
    HTTPException: _on_http_error,
    Exception: _on_unexpected,
}
