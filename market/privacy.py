"""How a resident appears to someone who may not know them yet: a volunteer offered their order
before holding it, a neighbour reading the wish wall. Orders and wishes mask alike, here.

A masked view shows the resident's name as "李*", their phone as "137****0001" and the
compound instead of the building, without the address detail. Free text in that view (a
description, a note in the history, a comment) is masked the same way where it repeats them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What stands in free text for the building or address detail a masked view leaves out.
HIDDEN_PLACE = "***"


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

    def __call__(self, text: str) -> str:
        for place in self.places:
            if place.strip():
                text = text.replace(place.strip(), HIDDEN_PLACE)
        if self.phone:
            # Also when written in groups: "137 0000 0001", "137-0000-0001".
            spaced = r"[\s-]?".join(re.escape(digit) for digit in self.phone)
            text = re.sub(spaced, mask_phone(self.phone), text)
        # A one-character name would mask every occurrence of that character.
        if len(self.name) > 1:
            text = text.replace(self.name, mask_name(self.name))
        return text
