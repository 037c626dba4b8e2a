"""Pages: people at the desk (find, create, correct, roles, deactivate, password resets), importing
people from a spreadsheet with a preview and a progress bar, the approvals to-do list; and on the
phone, signing up, one's application status, and applying to volunteer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import AreaLevel
from market.areas.service import managed_areas, subtree
from market.auth import service as auth
from market.auth.access import ROLE_RANK, Actor, ActorRequest, client_address, requires, requires_manager
from market.auth.models import Role
from market.auth.schemas import RolesWrite, UserCreate, UserUpdate
from market.errors import InvalidInput
from market.fields import PathId, query_id, query_text
from market.imports import TEMPLATE_CONTENT_TYPE
from market.pagination import Offset
from market.people import importing
from market.people import service as people
from market.people.models import ImportStatus
from market.people.schemas import SignUp, VolunteerApplicationCreate
from market.settings import Settings
from market.web.i18n import lang_of
from market.web.pages import (
    Form,
    FormData,
    FormInvalid,
    FormRejected,
    category_names,
    handling,
    page,
    parse,
    place_name,
    safe_next,
    see_other,
    url,
    word_options,
)

HOME = "/desk/people"
IMPORT = f"{HOME}/import"
APPROVALS = "/desk/approvals"
SIGNUP = "/signup"
SIGNUP_STATUS = "/signup/status"
VOLUNTEER_APPLY = "/r/volunteer"
LIMIT = 20
ROLE_PATTERN = "^(" + "|".join(Role) + ")?$"
PERSON_FIELDS = {"phone_taken": "phone", "outside_your_area": "area_id", "area_required": "area_id"}
ROLES_FIELDS = {"role_not_grantable": "roles", "not_on_yourself": "roles", "area_required": "roles"}
SIGNUP_FIELDS = {"phone_taken": "phone", "not_a_building": "area_id", "too_many_failed_attempts": "phone"}
APPLY_FIELDS = {"unknown_category": "skills", "outside_home_street": "serving_area_ids"}
WEEKDAYS = range(7)


def grantable_roles(actor: Actor) -> list[Role]:
    return [r for r in Role if actor.is_admin or ROLE_RANK[r] < actor.rank]


async def _building_options(session: AsyncSession, root_code: str) -> list[tuple[int, str]]:
    """Buildings under `root_code` ("" for all), each named with its compound, in code order."""
    areas = [a for a in await subtree(session, None) if a.code.startswith(root_code)]
    names = {a.code: a.name for a in areas}
    return [(a.id, place_name(a.code, a.name, names)) for a in areas if a.level == AreaLevel.building]


async def _home_options(session: AsyncSession, actor: Actor) -> list[tuple[int, str]]:
    """Where a manager may place a person: every area of their subtree, buildings with their compound."""
    areas = await managed_areas(session, actor, levels=list(AreaLevel))
    names = {a.code: a.name for a in areas}
    return [(a.id, place_name(a.code, a.name, names)) for a in areas]


def _role_options(request: Request, roles: list[Role]) -> list[tuple[str, str]]:
    return word_options(lang_of(request), "role", roles)


class PeoplePages(Controller):
    path = HOME
    guards = [requires_manager]
    include_in_schema = False

    @get("/")
    async def people(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        q: query_text(50) = None,
        role: Annotated[str | None, QueryParameter(pattern=ROLE_PATTERN)] = None,
        area_id: query_id("Where they live") = None,
        active: Annotated[str | None, QueryParameter(pattern="^(yes|no)?$")] = None,
        offset: Offset = 0,
    ) -> Template:
        areas = await managed_areas(session, request.user)
        codes = {a.id: a.code for a in areas}
        users, total = await auth.list_users(
            session,
            request.user,
            role=Role(role) if role else None,
            query=q,
            limit=LIMIT,
            offset=offset,
            area_code=codes.get(area_id) if area_id else None,
            active={"yes": True, "no": False}.get(active or ""),
        )
        query = {"q": q, "role": role, "area_id": area_id, "active": active}
        return page(
            request,
            "desk/people_list.html",
            form=Form({k: v or "" for k, v in query.items()}),
            people=[auth.user_read(u) for u in users],
            role_options=_role_options(request, list(Role)),
            area_options=[(a.id, a.name) for a in areas],
            total=total,
            limit=LIMIT,
            offset=offset,
            query=query,
        )

    async def _new_context(self, request: ActorRequest, session: AsyncSession) -> dict[str, Any]:
        return {
            "area_options": await _home_options(session, request.user),
            "role_options": _role_options(request, grantable_roles(request.user)),
        }

    @get("/new")
    async def new_person_form(
        self, request: ActorRequest, session: NamedDependency[AsyncSession]
    ) -> Template:
        form = Form({"roles": ["resident"]})
        return page(request, "desk/people_new.html", form=form, **await self._new_context(request, session))

    @post("/new")
    async def new_person(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session,
            form,
            "desk/people_new.html",
            lambda: self._new_context(request, session),
            fields={**PERSON_FIELDS, **ROLES_FIELDS},
        ):
            user = await auth.create_user(session, request.user, parse(form, UserCreate, settings.tz), now)
        return see_other(f"{HOME}/{user.id}", notice="person_created")

    async def _person_context(
        self, request: ActorRequest, session: AsyncSession, user_id: int
    ) -> dict[str, Any]:
        user = await auth.get_visible_user(session, request.user, user_id)
        return {
            "person": auth.user_read(user),
            "may_manage": (auth.may_manage_person(request.user, user) and user.id != request.user.id)
            or (request.user.is_admin),
            "is_self": user.id == request.user.id,
            "area_options": await _home_options(session, request.user),
            "role_options": _role_options(request, grantable_roles(request.user)),
            "roles_form": Form({"roles": [str(r) for r in user.roles]}),
        }

    @get("/{user_id:int}")
    async def person(
        self, request: ActorRequest, user_id: PathId, session: NamedDependency[AsyncSession]
    ) -> Template:
        context = await self._person_context(request, session, user_id)
        p = context["person"]
        form = Form({"name": p.name, "phone": p.phone, "area_id": str(p.area_id or "")})
        return page(request, "desk/people_person.html", form=form, **context)

    @post("/{user_id:int}")
    async def edit_person(
        self,
        request: ActorRequest,
        user_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session,
            form,
            "desk/people_person.html",
            lambda: self._person_context(request, session, user_id),
            fields=PERSON_FIELDS,
        ):
            await auth.update_user(session, request.user, user_id, parse(form, UserUpdate, settings.tz))
        return see_other(f"{HOME}/{user_id}", notice="person_saved")

    @post("/{user_id:int}/roles")
    async def set_roles(
        self,
        request: ActorRequest,
        user_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        roles_form = Form.of(data)

        async def context() -> dict[str, Any]:
            built = await self._person_context(request, session, user_id)
            p = built["person"]
            built["roles_form"] = roles_form
            return {
                **built,
                "form": Form({"name": p.name, "phone": p.phone, "area_id": str(p.area_id or "")}),
            }

        try:
            async with handling(session, roles_form, "desk/people_person.html", context, fields=ROLES_FIELDS):
                await auth.set_roles(
                    session, request.user, user_id, parse(roles_form, RolesWrite, settings.tz).roles
                )
        except FormRejected as rejected:
            # The page's main form is the person's details; the roles form carries the errors.
            rejected.context["roles_form"] = roles_form
            rejected.context["form"] = (await context())["form"]
            raise
        return see_other(f"{HOME}/{user_id}", notice="roles_saved")

    @post("/{user_id:int}/deactivate")
    async def deactivate(
        self, request: ActorRequest, user_id: PathId, session: NamedDependency[AsyncSession]
    ) -> Redirect:
        await auth.set_active(session, request.user, user_id, False)
        return see_other(f"{HOME}/{user_id}", notice="person_deactivated")

    @post("/{user_id:int}/reactivate")
    async def reactivate(
        self, request: ActorRequest, user_id: PathId, session: NamedDependency[AsyncSession]
    ) -> Redirect:
        await auth.set_active(session, request.user, user_id, True)
        return see_other(f"{HOME}/{user_id}", notice="person_reactivated")

    @post("/{user_id:int}/password-reset")
    async def reset_password(
        self, request: ActorRequest, user_id: PathId, session: NamedDependency[AsyncSession]
    ) -> Template:
        user, one_time = await auth.reset_password(session, request.user, user_id)
        # Shown once, in this answer only: never stored, never in a page that can be fetched again.
        response = page(request, "desk/people_reset.html", person=auth.user_read(user), one_time=one_time)
        response.headers["Cache-Control"] = "no-store"
        return response


class PeopleImportPages(Controller):
    path = IMPORT
    guards = [requires_manager]
    include_in_schema = False

    @get("/")
    async def import_form(self, request: ActorRequest) -> Template:
        return page(request, "desk/people_import.html", form=Form(), batch=importing.BATCH)

    @get("/template")
    async def template(
        self, lang: Annotated[str, QueryParameter(pattern="^(zh|en)$")] = "zh"
    ) -> Response[bytes]:
        return Response(
            importing.template_file(lang),
            media_type=TEMPLATE_CONTENT_TYPE,
            headers={"Content-Disposition": f'attachment; filename="people-{lang}.xlsx"'},
        )

    @post("/")
    async def upload(
        self,
        request: ActorRequest,
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form()
        async with handling(
            session, form, "desk/people_import.html", lambda: {"batch": importing.BATCH}, fields={}
        ):
            upload = data.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidInput("Choose a file.", code="file_empty")
            job = await importing.preview(
                session, request.user, await upload.read(), upload.filename or "", now
            )
        return see_other(f"{IMPORT}/{job.id}")

    @get("/{import_id:int}")
    async def job(
        self, request: ActorRequest, import_id: PathId, session: NamedDependency[AsyncSession]
    ) -> Template:
        job = await importing.get_import(session, request.user, import_id)
        return page(request, "desk/people_import_job.html", job=job, errors=importing.errors_of(job)[:500])

    @post("/{import_id:int}/run")
    async def run(
        self,
        request: ActorRequest,
        import_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        """Without script: one batch per click, then the page shows how far it has got."""
        job = await importing.run_batch(session, request.user, import_id, now)
        return see_other(
            f"{IMPORT}/{job.id}", notice="import_done" if job.status == ImportStatus.done else None
        )

    @post("/{import_id:int}/step")
    async def step(
        self,
        request: ActorRequest,
        import_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> dict[str, Any]:
        """The page's script calls this again and again, moving the progress bar after each batch."""
        job = await importing.run_batch(session, request.user, import_id, now)
        return {
            "status": job.status,
            "done": job.done,
            "total": job.total,
            "created": job.created,
            "changed": job.changed,
            "unchanged": job.unchanged,
        }


class ApprovalPages(Controller):
    path = APPROVALS
    guards = [requires_manager]
    include_in_schema = False

    @get("/")
    async def approvals(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        offset: Offset = 0,
    ) -> Template:
        items, total = await people.list_approvals(session, request.user, LIMIT, offset)
        return page(
            request,
            "desk/approvals.html",
            items=items,
            total=total,
            limit=LIMIT,
            offset=offset,
            categories=await category_names(session, lang_of(request)),
        )

    @post("/{application_id:int}/approve")
    async def approve(
        self,
        request: ActorRequest,
        application_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        await people.decide(session, request.user, application_id, True, now)
        return see_other(APPROVALS, notice="application_approved")

    @post("/{application_id:int}/refuse")
    async def refuse(
        self,
        request: ActorRequest,
        application_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        await people.decide(session, request.user, application_id, False, now)
        return see_other(APPROVALS, notice="application_refused")


class SignUpPages(Controller):
    include_in_schema = False

    async def _signup_context(self, session: AsyncSession, back: str = "") -> dict[str, Any]:
        # `next`: where the person was going (a scanned doorplate's order form), once approved.
        return {"buildings": await _building_options(session, ""), "next": back}

    @get(SIGNUP)
    async def signup_form(
        self,
        request: Request,
        session: NamedDependency[AsyncSession],
        next: query_text(500, "Where to go on once approved") = None,
    ) -> Template:
        return page(
            request, "signup.html", form=Form(), **await self._signup_context(session, safe_next(next, ""))
        )

    @post(SIGNUP)
    async def signup(
        self,
        request: Request,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        from market.web.routes import log_in

        form = Form.of(data)
        back = safe_next(form.value("next"), "")
        async with handling(
            session, form, "signup.html", lambda: self._signup_context(session, back), fields=SIGNUP_FIELDS
        ):
            body = parse(form, SignUp, settings.tz)
            if form.value("password_again") != body.password:
                form.errors["password_again"] = ("account.password_mismatch", {})
                raise FormInvalid
            user = await people.sign_up(session, settings, body, client_address(request), now)
        return log_in(see_other(url(SIGNUP_STATUS, next=back), notice="signed_up"), settings, user, now)

    @get(SIGNUP_STATUS)
    async def status(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        next: query_text(500, "Where to go on once approved") = None,
    ) -> Template:
        return page(
            request,
            "signup_status.html",
            applications=await people.my_applications(session, request.user),
            next=safe_next(next, ""),
        )


class VolunteerApplyPages(Controller):
    path = VOLUNTEER_APPLY
    guards = [requires(Role.resident)]
    include_in_schema = False

    async def _context(self, request: ActorRequest, session: AsyncSession) -> dict[str, Any]:
        street = request.user.area_code[:9]
        areas = [
            a
            for a in await subtree(session, None, [AreaLevel.community, AreaLevel.grid])
            if street and a.code.startswith(street)
        ]
        return {
            "categories": list((await category_names(session, lang_of(request), active_only=True)).items()),
            "areas": [(a.id, a.name) for a in areas],
            "weekdays": [(str(d), f"weekday.{d}") for d in WEEKDAYS],
            "applications": await people.my_applications(session, request.user),
        }

    @get("/")
    async def apply_form(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> Template:
        form = Form({"start": "09:00", "end": "12:00"})
        return page(request, "phone/volunteer_apply.html", form=form, **await self._context(request, session))

    @post("/")
    async def apply(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session,
            form,
            "phone/volunteer_apply.html",
            lambda: self._context(request, session),
            fields=APPLY_FIELDS,
        ):
            days = [d for d in form.all("weekdays") if d in {str(w) for w in WEEKDAYS}]
            start, end = str(form.value("start")), str(form.value("end"))
            windows = [{"weekday": int(d), "start": start, "end": end} for d in days]
            given = {
                "skills": [{"category": c} for c in form.all("skills") if c],
                "availability": windows,
                "serving_area_ids": [a for a in form.all("serving_area_ids") if a],
            }
            if not given["skills"]:
                form.errors["skills"] = ("form.required", {})
                raise FormInvalid
            try:
                body = msgspec.convert(given, VolunteerApplicationCreate, strict=False)
            except msgspec.ValidationError as error:
                form.errors["start"] = ("form.invalid", {})
                raise FormInvalid from error
            await people.apply_to_volunteer(session, request.user, body, now)
        return see_other(VOLUNTEER_APPLY, notice="volunteer_applied")


CONTROLLERS: list[type[Controller]] = [
    PeoplePages,
    PeopleImportPages,
    ApprovalPages,
    SignUpPages,
    VolunteerApplyPages,
]
