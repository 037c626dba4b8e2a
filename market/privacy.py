"""How a resident appears to someone who may not know them yet: a volunteer offered their order
before holding it, a neighbour reading the wish wall. Orders and wishes mask alike, here.

A masked view shows the resident's name as "李*", their phone as "137****0001" and the
compound instead of the building, without the address detail. Free text in that view (a
description, a note in the history, a comment) is masked the same way where it repeats them.
Their user id is left out too (`PersonRef.id` and the history's `actor_id` are None): with it a
reader could look the person up elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import msgspec

# What stands in free text for the building or address detail a masked view leaves out.
HIDDEN_PLACE = "***"
# What may stand between the digits of a phone written in free text: "137 0000 0001", "137-0000-0001",
# "137 - 0000 - 0001".
_DIGIT_GAP = r"[\s-]"
_DIGIT_GAPS = re.compile(_DIGIT_GAP + "+")


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1)


@dataclass(frozen=True, slots=True)
class Mask:
    """One resident as a masked view shows them; calling it masks a free text."""

    name: str
    phone: str
    # The building's name and the address detail: in no masked view at all.
    places: tuple[str, ...] = ()
    # The masked person's user id: in no masked view either.
    user_id: int | None = None

    def hides(self, user_id: int | None) -> bool:
        """Whether `user_id` is the person this view masks."""
        return user_id is not None and user_id == self.user_id

    def __call__(self, text: str) -> str:
        for place in self.places:
            if place.strip():
                text = text.replace(place.strip(), HIDDEN_PLACE)
        # Also when written in groups. The pattern is the resident's own, and a street has more
        # residents than `re` keeps compiled (512): it is built only for a text the phone is in, gaps
        # aside, where it matches.
        if self.phone and _DIGIT_GAPS.sub("", self.phone) in _DIGIT_GAPS.sub("", text):
            spaced = f"{_DIGIT_GAP}*".join(re.escape(digit) for digit in self.phone)
            masked = mask_phone(self.phone)
            text = re.sub(spaced, lambda _found: masked, text)  # as it is, not a template
        # A one-character name would mask every occurrence of that character.
        if len(self.name) > 1:
            text = text.replace(self.name, mask_name(self.name))
        return text


class PersonRef(msgspec.Struct):
    # None when the person is masked for the reader.
    id: int | None
    name: str
    phone: str


def person_ref(user_id: int, name: str, phone: str, *, masked: bool) -> PersonRef:
    """A person whole, or as a masked view shows them: masked name and phone, no id."""
    if masked:
        return PersonRef(id=None, name=mask_name(name), phone=mask_phone(phone))
    return PersonRef(id=user_id, name=name, phone=phone)
