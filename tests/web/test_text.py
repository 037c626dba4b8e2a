"""The page catalogue: every refusal code and every domain word has its text, in both languages."""

from __future__ import annotations

import ast
import enum
import re
import string
from pathlib import Path
from typing import get_args

import pytest

import market
from market.areas.models import AreaLevel
from market.auth.access import RESTRICTIONS
from market.auth.models import Role
from market.consultation.models import ProposalStatus, RejectReason
from market.credit.models import CompactReason, CreditSource
from market.dispatch.eligibility import Reason
from market.dispatch.models import BoardMode, PairOutcome, PlanStatus
from market.dispatch.service import EXPLANATIONS
from market.ledger.authority import Refusal
from market.ledger.engine import SUCCESS, Result
from market.ledger.models import (
    AccountKind,
    AdjustmentReason,
    Asset,
    ExpiryPolicy,
    OwedStatus,
    PendingStatus,
    TransferCode,
    WithheldReason,
)
from market.needs.models import FlowOutcome, NeedStatus
from market.needs.service import REASONS as ALLOCATION_REASONS
from market.orders.models import (
    DispatchMode,
    EscalationLevel,
    OfferStatus,
    OrderAction,
    OrderChannel,
    OrderStatus,
    Urgency,
)
from market.orders.service import REWARD_REASONS
from market.party.models import Grade, ReportStatus
from market.projects.models import ProjectAction, ProjectStatus, ResponsibilityEscalation
from market.records.models import (
    CertificateStatus,
    CorrectionReason,
    EntryKind,
    RefusalReason,
    RevocationReason,
)
from market.records.schemas import LineKind
from market.rewards.models import RedemptionStatus
from market.shifts.models import ShiftCancelReason, ShiftStatus, SignupStatus
from market.teams.models import Speciality
from market.unit_reviews.models import RaterKind
from market.units.models import ResourceCategory, ResourceStatus, UnitKind
from market.volunteers.models import PauseReason
from market.web.i18n import CATALOGUE
from market.web.text import errors
from market.wishes.models import ClaimerKind, WishAction, WishStatus

SOURCE = Path(market.__file__).parent
# `code="…"` in a call and `default_code = "…"` on an error class; `\b` leaves out `area_code="…"`.
LITERAL_CODE = re.compile(r"""\b(?:code=|default_code\s*=\s*)(["'])([a-z_]+)\1""")
# Where a refusal's code is not written out: the ledger turns an engine result, or the authority's
# refusal, into the code; a restricted person is refused with their restriction.
DYNAMIC_CODE_SITES = {
    ("ledger/service.py", "refuse"),
    ("ledger/service.py", "_authorise"),
    ("auth/access.py", "refuse_if_restricted"),
}


def _sources() -> dict[str, str]:
    return {path.relative_to(SOURCE).as_posix(): path.read_text() for path in sorted(SOURCE.rglob("*.py"))}


def _literal_codes() -> set[str]:
    return {m.group(2) for text in _sources().values() for m in LITERAL_CODE.finditer(text)}


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def _error_classes(trees: dict[str, ast.Module]) -> set[str]:
    """The names of MarketError and every class derived from it, wherever it is defined."""
    names = {"MarketError"}
    classes = [node for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    while grown := {
        c.name for c in classes if c.name not in names and any(_name(b) in names for b in c.bases)
    }:
        names |= grown
    return names


def _dynamic_code_sites() -> set[tuple[str, str]]:
    """(file, function) of every refusal raised with a code computed at run time."""
    trees = {path: ast.parse(text) for path, text in _sources().items()}
    classes = _error_classes(trees)

    def computed(call: ast.AST) -> bool:
        return (
            isinstance(call, ast.Call)
            and _name(call.func) in classes
            and any(k.arg == "code" and not isinstance(k.value, ast.Constant) for k in call.keywords)
        )

    return {
        (path, function.name)
        for path, tree in trees.items()
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(map(computed, ast.walk(function)))
    }


def _refusal_codes() -> set[str]:
    return (
        _literal_codes()
        | {r.value for r in Result if r not in SUCCESS}
        | {r.value for r in Refusal}
        | set(RESTRICTIONS)
    )


def test_the_scan_finds_the_refusal_codes() -> None:
    codes = _literal_codes()
    assert {"invalid_credentials", "illegal_transition", "forbidden", "not_found"} <= codes


def test_every_refusal_code_has_text() -> None:
    missing = sorted(code for code in _refusal_codes() if f"error.{code}" not in CATALOGUE)
    assert not missing, f"add these to market/web/text/errors.py: {missing}"


def test_every_code_computed_at_run_time_is_known_to_this_test() -> None:
    # A new site would raise codes the scan cannot see: teach `_refusal_codes` about them.
    assert _dynamic_code_sites() == DYNAMIC_CODE_SITES


def test_no_refusal_text_is_left_over() -> None:
    codes = _refusal_codes()
    assert sorted(k for k in errors.TEXT if k.removeprefix("error.") not in codes) == []


def test_login_refusal_has_its_exact_text() -> None:
    assert CATALOGUE["error.invalid_credentials"] == (
        "手机号或密码不正确。",
        "Wrong phone number or password.",
    )


ENUMS: list[tuple[type[enum.Enum], str]] = [
    (OrderStatus, "order_status"),
    (Urgency, "urgency"),
    (OrderChannel, "order_channel"),
    (PauseReason, "pause_reason"),
    (EscalationLevel, "escalation"),
    (OfferStatus, "offer_status"),
    (DispatchMode, "dispatch_mode"),
    (PlanStatus, "plan_status"),
    (PairOutcome, "pair_outcome"),
    (Reason, "eligibility"),
    (BoardMode, "board_mode"),
    (WishStatus, "wish_status"),
    (ClaimerKind, "claimer_kind"),
    (Asset, "asset"),
    (AccountKind, "account_kind"),
    (TransferCode, "transfer_code"),
    (PendingStatus, "pending_status"),
    (OwedStatus, "owed_status"),
    (AdjustmentReason, "adjustment_reason"),
    (WithheldReason, "withheld_reason"),
    (ExpiryPolicy, "expiry_policy"),
    (RedemptionStatus, "redemption_status"),
    (UnitKind, "unit_kind"),
    (ResourceCategory, "resource_category"),
    (ResourceStatus, "resource_status"),
    (NeedStatus, "need_status"),
    (FlowOutcome, "flow_outcome"),
    (ProjectStatus, "project_status"),
    # The actions of the state machines, as the timelines name them.
    (OrderAction, "order_action"),
    (WishAction, "wish_action"),
    (ProjectAction, "projects.action"),
    (ResponsibilityEscalation, "responsibility_escalation"),
    (Speciality, "speciality"),
    (Role, "role"),
    (AreaLevel, "area_level"),
    (SignupStatus, "shift_signup_status"),
    (ShiftStatus, "shift_status"),
    (ShiftCancelReason, "shift_cancel_reason"),
    # A cancelled shift's reason, as its notification's reason_code.
    (ShiftCancelReason, "notification_reason"),
    (ProposalStatus, "proposal_status"),
    (RejectReason, "proposal_reject_reason"),
    (EntryKind, "record_kind"),
    (CorrectionReason, "correction_reason"),
    (RefusalReason, "refusal_reason"),
    (RevocationReason, "revocation_reason"),
    (CertificateStatus, "certificate_status"),
    (Grade, "party_grade"),
    (ReportStatus, "report_status"),
    (CreditSource, "credit_source"),
    (CompactReason, "compact_reason"),
    (RaterKind, "rater_kind"),
]

# Words that are not enums: the solvers' reasons.
WORDS: list[tuple[set[str], str]] = [
    ({str(r) for r in REWARD_REASONS}, "reward_reason"),
    (set(EXPLANATIONS), "dispatch_reason"),
    (set(ALLOCATION_REASONS), "allocation_reason"),
    (set(get_args(LineKind)), "record_kind"),
]


@pytest.mark.parametrize(("values", "prefix"), [({str(v.value) for v in e}, p) for e, p in ENUMS] + WORDS)
def test_every_domain_word_has_text(values: set[str], prefix: str) -> None:
    missing = sorted(f"{prefix}.{v}" for v in values if f"{prefix}.{v}" not in CATALOGUE)
    assert not missing, f"add these to market/web/text/domain.py: {missing}"


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_text_exists_in_both_languages_with_the_same_placeholders() -> None:
    for key, (zh, en) in CATALOGUE.items():
        assert zh.strip() and en.strip(), key
        assert _placeholders(zh) == _placeholders(en), key


# Han characters, or Chinese punctuation for texts that are only a pattern ("{at}：{quantity}", "、").
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
# Texts shown as they are in every language: the name of a language.
NOT_CHINESE = {"lang.switch_to_en"}


def test_every_chinese_text_is_chinese() -> None:
    untranslated = sorted(
        k for k, (zh, _) in CATALOGUE.items() if not CJK.search(zh) and k not in NOT_CHINESE
    )
    assert not untranslated
