"""Pages: the volunteer's own profile on the phone — skills, weekly availability, the areas they
serve (within their home street), how many orders they hold at once, and a pause (away, busy)
until a date, during which dispatch passes them over."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import AreaLevel, code_length, community_code_of
from market.areas.service import subtree
from market.auth.access import Actor, ActorRequest, requires
from market.auth.models import Role
from market.auth.service import get_user
from market.settings import Settings
from market.volunteers import service as volunteers
from market.volunteers.models import PauseReason
from market.volunteers.schemas import PauseRequest, ProfileRead, ProfileWrite, Skill, Window
from market.web.i18n import lang_of
from market.web.pages import (
    Form,
    FormData,
    FormInvalid,
    category_names,
    form_int,
    handling,
    page,
    parse,
    see_other,
    word_options,
)

PATH = "/v/profile"
PAGE = "phone/volunteer_profile.html"
STREET = code_length(AreaLevel.street)
WEEKDAYS = range(7)
LEVELS = (1, 2, 3)
_CLOCK = re.compile(r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")

PROFILE_FIELDS = {
    "outside_home_street": "serving_area_ids",
    "unknown_category": "skills",
    "duplicate_skill": "skills",
    "invalid_window": "availability",
}
PAUSE_FIELDS = {"pause_in_past": "until", "pause_too_long": "until"}


def _values(profile: ProfileRead) -> dict[str, Any]:
    """The profile as the form shows it: one window a day (the first, when there are several)."""
    values: dict[str, Any] = {
        "capacity": str(profile.capacity),
        "skills": [s.category for s in profile.skills],
        "serving_area_ids": [str(a.id) for a in profile.serving_areas],
    }
    for skill in profile.skills:
        values[f"level_{skill.category}"] = str(skill.level)
    for window in reversed(profile.availability):
        values[f"day_{window.weekday}"] = "on"
        values[f"start_{window.weekday}"] = window.start
        values[f"end_{window.weekday}"] = window.end
    return values


def _profile_body(form: Form) -> ProfileWrite:
    """The form as the API's profile: the skills ticked (each with its level), a window for each
    day ticked, the areas ticked."""
    capacity = form_int(form, "capacity", le=10)
    if capacity is None or capacity < 1:
        form.errors["capacity"] = ("form.out_of_range", {})
    skills = []
    for code in dict.fromkeys(form.all("skills")):
        level = form_int(form, f"level_{code}", le=3) or 1
        skills.append(Skill(category=str(code)[:32], level=max(level, 1)))
    windows = []
    for day in WEEKDAYS:
        if not form.value(f"day_{day}"):
            continue
        start, end = str(form.value(f"start_{day}")), str(form.value(f"end_{day}"))
        if not (_CLOCK.match(start) and _CLOCK.match(end)) or start >= end:
            form.errors["availability"] = ("profile.window_invalid", {})
            continue
        windows.append(Window(weekday=day, start=start, end=end))
    areas = [int(v) for v in form.all("serving_area_ids") if str(v).isdecimal() and len(str(v)) <= 9]
    if form.errors:
        raise FormInvalid
    try:
        return ProfileWrite(
            capacity=capacity or 1, skills=skills, availability=windows, serving_area_ids=areas
        )
    except msgspec.ValidationError as error:  # pragma: no cover - the checks above keep within bounds
        form.problems.append(("form.invalid", {}))
        raise FormInvalid from error


async def _context(
    request: ActorRequest, session: AsyncSession, now: datetime, tz: ZoneInfo
) -> dict[str, Any]:
    actor: Actor = request.user
    lang = lang_of(request)
    user = await get_user(session, actor.id)
    profile = await volunteers.profile_read(session, user, await volunteers.load_profile(session, actor.id))
    street = await _home_street_areas(session, actor)
    paused = profile.paused_until is not None and profile.paused_until > now
    return {
        "profile": profile,
        "paused": paused,
        # The last day of the pause, as the volunteer chose it.
        "paused_through": (profile.paused_until.astimezone(tz) - timedelta(days=1)).date()
        if paused
        else None,
        "categories": list((await category_names(session, lang, active_only=True)).items()),
        "levels": [(str(level), f"profile.level.{level}") for level in LEVELS],
        "weekdays": [(day, f"profile.weekday.{day}") for day in WEEKDAYS],
        "serving_choices": street,
        "honour_roll_opt_out": user.honour_roll_opt_out,
        "reasons": word_options(lang, "pause_reason", PauseReason),
        "pause_form": Form(
            {"until": (now.astimezone(tz) + timedelta(days=7)).date().isoformat(), "reason": "away"}
        ),
    }


async def _home_street_areas(session: AsyncSession, actor: Actor) -> list[tuple[int, str]]:
    """The areas a volunteer may choose to serve: the communities and grids of their home street."""
    if len(actor.area_code) < STREET:
        return []
    areas = await subtree(session, None, (AreaLevel.community, AreaLevel.grid))
    street = actor.area_code[:STREET]
    names = {a.code: a.name for a in areas}
    choices = []
    for area in areas:
        if not area.code.startswith(street):
            continue
        community = community_code_of(area.code)
        label = (
            area.name if area.level == AreaLevel.community else f"{names.get(community, '')} · {area.name}"
        )
        choices.append((area.id, label))
    return choices


class VolunteerProfilePages(Controller):
    path = PATH
    guards = [requires(Role.volunteer)]
    include_in_schema = False

    @get("/")
    async def profile(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Template:
        context = await _context(request, session, now, settings.tz)
        return page(request, PAGE, form=Form(_values(context["profile"])), **context)

    @post("/")
    async def save(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session, form, PAGE, lambda: _context(request, session, now, settings.tz), fields=PROFILE_FIELDS
        ):
            body = _profile_body(form)
            await volunteers.put_profile(session, request.user, request.user.id, body)
        return see_other(PATH, notice="profile_saved")

    @post("/pause")
    async def pause(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        pause_form = Form.of(data)

        async def context() -> dict[str, Any]:
            built = await _context(request, session, now, settings.tz)
            return built | {"pause_form": pause_form, "profile_form": Form(_values(built["profile"]))}

        async with handling(session, pause_form, PAGE, context, fields=PAUSE_FIELDS):
            body = parse(pause_form, PauseRequest, settings.tz)
            await volunteers.pause(session, request.user, request.user.id, body, now, settings.tz)
        return see_other(PATH, notice="profile_paused")

    @post("/resume")
    async def resume(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> Redirect:
        await volunteers.resume(session, request.user, request.user.id)
        return see_other(PATH, notice="profile_resumed")


CONTROLLERS: list[type[Controller]] = [VolunteerProfilePages]
