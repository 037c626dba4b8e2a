"""The unit review's score (述职评议得分), in one place: a pure function of the half-year's figures.

    score = KEEPING × kept ÷ made                                  (commitments kept on time)
          + RESIDENTS × (residents' average stars − 1) ÷ 4          (ratings after projects)
          + COMMUNITIES × (communities' average stars − 1) ÷ 4
          + min(GIVING, PER_WISH × wishes claimed + PER_REDEEMED × reward items redeemed)

out of 100 (50 + 15 + 15 + 20), to one decimal. A part with nothing to measure (no commitments,
no ratings of a kind) gives 0: a unit earns its points by what it did. The pages show the formula
with these weights (`WEIGHTS`) and each part beside the score.
"""

from __future__ import annotations

from dataclasses import dataclass

KEEPING = 50
RESIDENTS = 15
COMMUNITIES = 15
GIVING = 20
PER_WISH = 4
PER_REDEEMED = 1
WEIGHTS = {
    "keeping": KEEPING,
    "residents": RESIDENTS,
    "communities": COMMUNITIES,
    "giving": GIVING,
    "per_wish": PER_WISH,
    "per_redeemed": PER_REDEEMED,
}


@dataclass(frozen=True)
class Figures:
    """What the score reads of a unit's half-year."""

    made: int  # commitments in projects closed in the half-year
    kept: int  # of them, delivered in full by the project's deadline
    wishes_claimed: int
    redeemed: int  # items of the unit's donated rewards handed out
    resident_stars: tuple[int, ...]
    community_stars: tuple[int, ...]


@dataclass(frozen=True)
class Score:
    keeping: float
    residents: float
    communities: float
    giving: float
    total: float


def _rating_part(weight: int, stars: tuple[int, ...]) -> float:
    if not stars:
        return 0.0
    return weight * (sum(stars) / len(stars) - 1) / 4


def unit_score(f: Figures) -> Score:
    """The score and its parts (see the module's formula)."""
    keeping = KEEPING * f.kept / f.made if f.made else 0.0
    residents = _rating_part(RESIDENTS, f.resident_stars)
    communities = _rating_part(COMMUNITIES, f.community_stars)
    giving = float(min(GIVING, PER_WISH * f.wishes_claimed + PER_REDEEMED * f.redeemed))
    parts = (keeping, residents, communities, giving)
    # Rounded half up (Python's round() rounds half to even: 76.85 would become 76.8).
    total = int(sum(parts) * 10 + 0.5 + 1e-9) / 10
    return Score(*(round(p, 2) for p in parts), total=total)
