"""Importing residents and volunteers from a spreadsheet: phone, name, building code, roles, skills,
availability. Rows are keyed by phone, so importing the same file again changes nothing.

Uploading checks every row and writes nothing but the import itself (`preview`): each row's errors
come back as codes the pages put in the reader's language. A file without errors is then written
in batches (`run_batch`), one per request, so that the page shows a progress bar and no request
runs long; each batch inserts in bulk (no round trip per row), and no password is hashed: imported
people have none until a manager resets it (or they sign up with their phone).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, AreaLevel, code_length, community_code_of
from market.auth.access import ROLE_RANK, Actor
from market.auth.models import Role, User, UserRole
from market.categories.models import ServiceCategory
from market.errors import Conflict, NotFound
from market.imports import Column, read_table, template
from market.people.models import ImportStatus, PeopleImport
from market.volunteers.models import AvailabilityWindow, ServingArea, VolunteerProfile, VolunteerSkill

COLUMNS = (
    Column("phone", "手机号", "Phone"),
    Column("name", "姓名", "Name"),
    Column("building", "楼栋编码", "Building code"),
    Column("roles", "身份", "Roles", required=False),
    Column("skills", "技能", "Skills", required=False),
    Column("availability", "可服务时间", "Availability", required=False),
)
EXAMPLES = {
    "zh": [
        ["13800138000", "张桂兰", "110105001001001001001", "居民", "", ""],
        ["13900139000", "李明", "110105001001001001002", "居民、志愿者", "陪同就医、维修",
         "1-5 08:00-12:00; 6 09:00-17:00"],
    ],
    "en": [
        ["13800138000", "Zhang Guilan", "110105001001001001001", "resident", "", ""],
        ["13900139000", "Li Ming", "110105001001001001002", "resident, volunteer", "escort, repair",
         "1-5 08:00-12:00; 6 09:00-17:00"],
    ],
}  # fmt: skip
# Rows written per request: a batch of 5,000 rows takes a few of these.
BATCH = 1000
# The roles a spreadsheet may name, by key or by either language's word for them.
ROLE_WORDS = {
    **{role.value: role for role in Role},
    "居民": Role.resident,
    "志愿者": Role.volunteer,
    "共建单位管理员": Role.unit_admin,
    "网格员": Role.grid_worker,
    "社区工作者": Role.community_manager,
    "街道管理员": Role.street_admin,
    "系统管理员": Role.admin,
    "unit admin": Role.unit_admin,
    "grid worker": Role.grid_worker,
    "community manager": Role.community_manager,
    "street admin": Role.street_admin,
    "administrator": Role.admin,
}
PHONE = re.compile(r"^1[3-9][0-9]{9}$")
LIST_SEPARATORS = re.compile(r"\s*[,，、;；/]\s*")
# "1-5 08:00-12:00; 6,7 09:00-11:30": weekdays 1 (Monday) to 7 (Sunday), then a time window.
WINDOW = re.compile(
    r"^([1-7](?:\s*-\s*[1-7])?(?:\s*,\s*[1-7](?:\s*-\s*[1-7])?)*)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$"
)
NAME_MAX = 50
BUILDING = code_length(AreaLevel.building)


def template_file(lang: str) -> bytes:
    return template(COLUMNS, lang, EXAMPLES["zh" if lang == "zh" else "en"])


@dataclass
class Checked:
    """One row as it will be written."""

    line: int
    phone: str
    name: str
    area_id: int
    area_code: str
    roles: list[str]
    skills: list[str] | None
    availability: list[list[int]] | None

    def as_json(self) -> dict[str, Any]:
        return self.__dict__


@dataclass
class Report:
    rows: list[Checked] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, line: int, column: str, code: str, value: str = "") -> None:
        self.errors.append({"line": line, "column": column, "code": code, "value": value[:60]})


def _split(value: str) -> list[str]:
    return [part for part in LIST_SEPARATORS.split(value.strip()) if part]


def _windows(value: str) -> list[list[int]] | None:
    """Weekly windows as [weekday 0–6, start minute, end minute]; None when the text is not one."""
    windows = []
    for entry in re.split(r"\s*[;；\n]\s*", value.strip()):
        if not entry:
            continue
        match = WINDOW.match(entry)
        if not match:
            return None
        days, h1, m1, h2, m2 = match.groups()
        start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
        if int(m1) > 59 or int(m2) > 59 or not 0 <= start < end <= 1440:
            return None
        for part in days.split(","):
            first, _, last = part.strip().partition("-")
            low, high = int(first), int(last or first)
            if low > high:
                return None
            windows.extend([day - 1, start, end] for day in range(low, high + 1))
    return sorted({tuple(w): w for w in windows}.values())


async def _categories(session: AsyncSession) -> dict[str, str]:
    """Active service categories by code and by either language's name (case-folded)."""
    words: dict[str, str] = {}
    for c in await session.scalars(select(ServiceCategory).where(ServiceCategory.is_active)):
        for word in (c.code, c.name_zh, c.name_en):
            words[word.casefold()] = c.code
    return words


@dataclass
class Existing:
    """What the database holds about the phones of some rows."""

    # id, phone, name, area_id by phone (columns, not whole accounts: thousands are compared at once).
    users: dict[str, Any]
    roles: dict[int, set[str]]
    skills: dict[int, dict[str, int]]
    windows: dict[int, list[list[int]]]
    profiles: set[int]
    areas: dict[int, str]


async def _existing(session: AsyncSession, phones: Sequence[str]) -> Existing:
    users: dict[str, User] = {}
    for start in range(0, len(phones), 5000):
        chunk = phones[start : start + 5000]
        found = await session.execute(
            select(User.id, User.phone, User.name, User.area_id).where(User.phone.in_(chunk))
        )
        users.update({u.phone: u for u in found})
    ids = sorted(u.id for u in users.values())
    roles: dict[int, set[str]] = {}
    skills: dict[int, dict[str, int]] = {}
    windows: dict[int, list[list[int]]] = {}
    profiles: set[int] = set()
    areas: dict[int, str] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for uid, role in await session.execute(
            select(UserRole.user_id, UserRole.role).where(UserRole.user_id.in_(chunk))
        ):
            roles.setdefault(uid, set()).add(role)
        profiles |= set(
            await session.scalars(select(VolunteerProfile.user_id).where(VolunteerProfile.user_id.in_(chunk)))
        )
        for uid, code, level in await session.execute(
            select(VolunteerSkill.user_id, VolunteerSkill.category_code, VolunteerSkill.level).where(
                VolunteerSkill.user_id.in_(chunk)
            )
        ):
            skills.setdefault(uid, {})[code] = level
        for uid, day, s, e in await session.execute(
            select(
                AvailabilityWindow.user_id,
                AvailabilityWindow.weekday,
                AvailabilityWindow.start_minute,
                AvailabilityWindow.end_minute,
            ).where(AvailabilityWindow.user_id.in_(chunk))
        ):
            windows.setdefault(uid, []).append([day, s, e])
    area_ids = {u.area_id for u in users.values() if u.area_id is not None}
    if area_ids:
        areas = dict(
            (await session.execute(select(Area.id, Area.code).where(Area.id.in_(sorted(area_ids))))).all()
        )
    for w in windows.values():
        w.sort()
    return Existing(users, roles, skills, windows, profiles, areas)


def _reach(actor: Actor, user: Any, existing: Existing) -> bool:
    """Whether the importer may change this person (as `may_manage_person`, on loaded rows)."""
    if actor.is_admin:
        return True
    code = existing.areas.get(user.area_id) if user.area_id is not None else None
    held = existing.roles.get(user.id, set())
    return code is not None and actor.manages(code) and all(ROLE_RANK[Role(r)] < actor.rank for r in held)


async def check(session: AsyncSession, actor: Actor, data: bytes) -> Report:
    """Every row checked against the importer's reach and the database; nothing written."""
    table = read_table(data, COLUMNS)
    report = Report()
    prefix = "" if actor.is_admin else actor.area_code
    buildings = dict(
        (
            await session.execute(
                select(Area.code, Area.id).where(
                    Area.level == AreaLevel.building, Area.code.startswith(prefix, autoescape=True)
                )
            )
        ).all()
    )
    categories = await _categories(session)
    seen: dict[str, int] = {}
    phones = [row.values["phone"].replace(" ", "") for row in table]
    existing = await _existing(session, sorted({p for p in phones if PHONE.match(p)}))
    for row, phone in zip(table, phones, strict=True):
        line, values = row.line, row.values
        errors_before = len(report.errors)
        if not PHONE.match(phone):
            report.refuse(line, "phone", "invalid_phone", phone)
        elif phone in seen:
            report.refuse(line, "phone", "duplicate_phone_in_file", phone)
        else:
            seen[phone] = line
        name = " ".join(values["name"].split())
        if not name:
            report.refuse(line, "name", "name_required")
        elif len(name) > NAME_MAX:
            report.refuse(line, "name", "name_too_long", name)
        code = values["building"].replace(" ", "")
        area_id = buildings.get(code)
        if area_id is None:
            known = await session.scalar(select(Area.level).where(Area.code == code)) if code else None
            if known == AreaLevel.building:
                report.refuse(line, "building", "building_outside_your_area", code)
            else:
                report.refuse(line, "building", "unknown_building", code)
        roles: set[Role] = set()
        for word in _split(values.get("roles", "")):
            role = ROLE_WORDS.get(word.casefold()) or ROLE_WORDS.get(word)
            if role is None:
                report.refuse(line, "roles", "unknown_role", word)
            elif ROLE_RANK[role] >= actor.rank and not actor.is_admin:
                report.refuse(line, "roles", "role_not_grantable", word)
            else:
                roles.add(role)
        if not roles and not _split(values.get("roles", "")):
            roles = {Role.resident}
        skills = None
        if _split(values.get("skills", "")):
            skills = []
            for word in _split(values["skills"]):
                found = categories.get(word.casefold())
                if found is None:
                    report.refuse(line, "skills", "unknown_skill", word)
                elif found not in skills:
                    skills.append(found)
        availability = None
        if values.get("availability", "").strip():
            availability = _windows(values["availability"])
            if availability is None:
                report.refuse(line, "availability", "invalid_availability", values["availability"])
        person = existing.users.get(phone)
        held = existing.roles.get(person.id, set()) if person else set()
        if (skills is not None or availability is not None) and Role.volunteer not in roles | {
            Role(r) for r in held
        }:
            report.refuse(line, "skills" if skills is not None else "availability", "skills_need_volunteer")
        if person is not None and not _reach(actor, person, existing):
            report.refuse(line, "phone", "person_outside_your_area", phone)
        if len(report.errors) == errors_before and area_id is not None:
            report.rows.append(
                Checked(
                    line,
                    phone,
                    name,
                    area_id,
                    code,
                    sorted(roles),
                    sorted(skills) if skills else skills,
                    availability,
                )
            )
    return report


@dataclass
class Counts:
    created: int = 0
    changed: int = 0
    unchanged: int = 0


async def _apply(
    session: AsyncSession, actor: Actor, rows: list[Checked], now: datetime, *, write: bool
) -> Counts:
    """Compare `rows` with the database and, when `write`, make it so in bulk."""
    counts = Counts()
    existing = await _existing(session, [r.phone for r in rows])
    communities = dict(
        (
            await session.execute(
                select(Area.code, Area.id).where(
                    Area.code.in_(sorted({community_code_of(r.area_code) for r in rows}))
                )
            )
        ).all()
    )
    new_rows = [r for r in rows if r.phone not in existing.users]
    counts.created = len(new_rows)
    user_updates: list[dict[str, Any]] = []
    role_inserts: list[dict[str, Any]] = []
    new_profiles: list[tuple[int, Checked]] = []
    skill_replace: dict[int, list[dict[str, Any]]] = {}
    window_replace: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        person = existing.users.get(r.phone)
        if person is None:
            continue
        if not _reach(actor, person, existing):
            raise Conflict(
                "The people in this file changed since it was checked; upload it again.",
                code="import_out_of_date",
            )
        held = existing.roles.get(person.id, set())
        change = False
        if person.name != r.name or person.area_id != r.area_id:
            user_updates.append({"id": person.id, "name": r.name, "area_id": r.area_id})
            change = True
        added = set(r.roles) - held
        if added:
            role_inserts.extend({"user_id": person.id, "role": role} for role in sorted(added))
            change = True
        if Role.volunteer in held | set(r.roles):
            if person.id not in existing.profiles:
                new_profiles.append((person.id, r))
                change = True
            else:
                levels = existing.skills.get(person.id, {})
                if r.skills is not None and sorted(levels) != r.skills:
                    skill_replace[person.id] = [
                        {"user_id": person.id, "category_code": c, "level": levels.get(c, 1)}
                        for c in r.skills
                    ]
                    change = True
                if r.availability is not None and existing.windows.get(person.id, []) != r.availability:
                    window_replace[person.id] = [
                        {"user_id": person.id, "weekday": d, "start_minute": s, "end_minute": e}
                        for d, s, e in r.availability
                    ]
                    change = True
        if change:
            counts.changed += 1
        else:
            counts.unchanged += 1
    if not write:
        return counts
    if new_rows:
        made = await session.execute(
            insert(User).returning(User.id, User.phone),
            [
                {
                    "phone": r.phone,
                    "name": r.name,
                    "password_hash": None,
                    "area_id": r.area_id,
                    "is_active": True,
                    "must_change_password": False,
                    "token_version": 0,
                    "created_at": now,
                }
                for r in new_rows
            ],
        )
        ids = dict((phone, uid) for uid, phone in made.all())
        for r in new_rows:
            role_inserts.extend({"user_id": ids[r.phone], "role": role} for role in r.roles)
            if Role.volunteer in r.roles:
                new_profiles.append((ids[r.phone], r))
    if user_updates:
        await session.execute(update(User), user_updates)
    if role_inserts:
        await session.execute(insert(UserRole), role_inserts)
    if new_profiles:
        await session.execute(
            insert(VolunteerProfile),
            [{"user_id": uid, "capacity": 1, "rating_sum": 0, "rating_count": 0} for uid, _ in new_profiles],
        )
        serving = []
        for uid, r in new_profiles:
            community = communities.get(community_code_of(r.area_code))
            if community is not None:
                serving.append(
                    {"user_id": uid, "area_id": community, "area_code": community_code_of(r.area_code)}
                )
            skill_replace[uid] = [{"user_id": uid, "category_code": c, "level": 1} for c in r.skills or []]
            window_replace[uid] = [
                {"user_id": uid, "weekday": d, "start_minute": s, "end_minute": e}
                for d, s, e in r.availability or []
            ]
        if serving:
            await session.execute(insert(ServingArea), serving)
    if skill_replace:
        await session.execute(delete(VolunteerSkill).where(VolunteerSkill.user_id.in_(sorted(skill_replace))))
        if values := [v for vs in skill_replace.values() for v in vs]:
            await session.execute(insert(VolunteerSkill), values)
    if window_replace:
        await session.execute(
            delete(AvailabilityWindow).where(AvailabilityWindow.user_id.in_(sorted(window_replace)))
        )
        if values := [v for vs in window_replace.values() for v in vs]:
            await session.execute(insert(AvailabilityWindow), values)
    return counts


def _rows(job: PeopleImport) -> list[Checked]:
    return [Checked(**row) for row in json.loads(job.rows)]


async def preview(
    session: AsyncSession, actor: Actor, data: bytes, file_name: str, now: datetime
) -> PeopleImport:
    """Check an uploaded file and keep the outcome; nothing else is written. A file the reader
    refuses (not a spreadsheet, too large, columns missing) is refused outright."""
    report = await check(session, actor, data)
    counts = await _apply(session, actor, report.rows, now, write=False) if not report.errors else Counts()
    job = PeopleImport(
        actor_id=actor.id,
        status=ImportStatus.refused if report.errors or not report.rows else ImportStatus.ready,
        file_name=file_name[:200],
        rows=json.dumps([r.as_json() for r in report.rows], ensure_ascii=False),
        errors=json.dumps(report.errors, ensure_ascii=False),
        total=len(report.rows),
        done=0,
        created=counts.created,
        changed=counts.changed,
        unchanged=counts.unchanged,
        created_at=now,
    )
    session.add(job)
    await session.flush()
    return job


async def get_import(
    session: AsyncSession, actor: Actor, import_id: int, *, for_update: bool = False
) -> PeopleImport:
    """An import, to the person who uploaded it only."""
    stmt = select(PeopleImport).where(PeopleImport.id == import_id, PeopleImport.actor_id == actor.id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    job = await session.scalar(stmt)
    if job is None:
        raise NotFound(f"Import {import_id} does not exist.", code="import_not_found")
    return job


def errors_of(job: PeopleImport) -> list[dict[str, Any]]:
    return json.loads(job.errors)


async def run_batch(session: AsyncSession, actor: Actor, import_id: int, now: datetime) -> PeopleImport:
    """Write the next batch of a checked import. Two requests at once write each batch once: the
    import is locked, and each takes the rows after those already done."""
    job = await get_import(session, actor, import_id, for_update=True)
    if job.status == ImportStatus.refused:
        raise Conflict("This file has errors; fix them and upload it again.", code="import_has_errors")
    if job.status == ImportStatus.done:
        return job
    rows = _rows(job)[job.done : job.done + BATCH]
    counts = await _apply(session, actor, rows, now, write=True)
    if job.status == ImportStatus.ready:
        # The counts shown at preview are replaced by what is actually written.
        job.created = job.changed = job.unchanged = 0
    job.created += counts.created
    job.changed += counts.changed
    job.unchanged += counts.unchanged
    job.done += len(rows)
    job.status = ImportStatus.done if job.done >= job.total else ImportStatus.running
    await session.flush()
    return job
