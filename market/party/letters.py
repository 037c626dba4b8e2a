"""The year's letters as PDFs: to each member's employer (反馈函), and the commendation letters
(表扬信) for members above the community's threshold. One page per member; the caller passes
`say`, which turns a catalogue key into text in the reader's language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from market.documents.pdf import PdfDocument
from market.party.schemas import YearRead, YearRow

Say = Callable[..., str]


def _facts(say: Say, row: YearRow) -> list[tuple[str, str]]:
    a = row.activity
    rating = (
        say("party.letter.rating", count=a.ratings, average=f"{a.rating_average:.1f}")
        if a.rating_average is not None
        else say("party.letter.no_rating")
    )
    return [
        (say("party.letter.name"), row.member.name),
        (say("party.letter.employer"), row.member.employer),
        (say("party.letter.hours"), say("party.letter.hours_value", hours=f"{a.hours:.1f}")),
        (say("party.letter.orders"), str(a.orders_served)),
        (say("party.letter.wishes"), str(a.wishes_claimed)),
        (say("party.letter.projects"), str(a.projects_joined)),
        (say("party.letter.ratings"), rating),
    ]


def employer_letters(say: Say, year: YearRead, issued_at: datetime, date_text: str) -> bytes:
    """A letter per evaluated member of the year, each on its own page."""
    rows = [r for r in year.rows if r.evaluation is not None]
    pdf = PdfDocument(
        say("party.letter.title", year=year.year), author=year.community_name, created_at=issued_at
    )
    for i, row in enumerate(rows):
        if i:
            pdf.new_page()
        assert row.evaluation is not None  # only evaluated rows
        pdf.heading(say("party.letter.title", year=year.year))
        pdf.paragraph(say("party.letter.to", employer=row.member.employer), align="L")
        pdf.paragraph(
            say("party.letter.body", name=row.member.name, year=year.year, community=year.community_name)
        )
        pdf.fields(_facts(say, row))
        pdf.fields(
            [
                (say("party.letter.grade"), say(f"party_grade.{row.evaluation.grade}")),
                (say("party.letter.comment"), row.evaluation.comment),
            ]
        )
        pdf.space(8)
        pdf.paragraph(year.community_name, align="R")
        pdf.paragraph(date_text, align="R")
    if not rows:
        pdf.paragraph(say("party.letter.none"))
    return pdf.to_bytes()


def commendation_letters(say: Say, year: YearRead, issued_at: datetime, date_text: str) -> bytes:
    """A commendation letter (表扬信) per member above the threshold, each on its own page."""
    rows = [r for r in year.rows if r.commended]
    pdf = PdfDocument(say("party.commendation.title"), author=year.community_name, created_at=issued_at)
    for i, row in enumerate(rows):
        if i:
            pdf.new_page()
        pdf.heading(say("party.commendation.title"))
        pdf.paragraph(say("party.letter.to", employer=row.member.employer), align="L")
        pdf.paragraph(
            say(
                "party.commendation.body",
                name=row.member.name,
                year=year.year,
                community=year.community_name,
                hours=f"{row.activity.hours:.1f}",
                threshold=year.threshold_hours,
            )
        )
        pdf.space(8)
        pdf.paragraph(year.community_name, align="R")
        pdf.paragraph(date_text, align="R")
    if not rows:
        pdf.paragraph(say("party.commendation.none"))
    return pdf.to_bytes()
