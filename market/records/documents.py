"""The certificate (志愿服务证明) as a PDF, and a record as a spreadsheet: laid out from what the
service returns, with the labels in the reader's language (`t` translates a page-text key)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from market.documents.pdf import PdfDocument
from market.exports import Row
from market.records.schemas import CertificateRead, RecordLine

Translate = Callable[..., str]


def certificate_pdf(certificate: CertificateRead, verify_url: str, t: Translate, tz: ZoneInfo) -> bytes:
    assert certificate.number is not None and certificate.decided_at is not None  # issued
    title = t("records.pdf.title")
    document = PdfDocument(title, author=certificate.issuer_name, created_at=certificate.decided_at)
    document.heading(title)
    if certificate.revoked_at is not None:
        document.paragraph(
            t("records.pdf.revoked", reason=t(f"revocation_reason.{certificate.reason}")), align="C"
        )
    document.fields(
        [
            (t("records.pdf.number"), certificate.number),
            (t("records.pdf.volunteer"), certificate.volunteer_name),
            (
                t("records.pdf.period"),
                f"{certificate.period_start.isoformat()} – {certificate.period_end.isoformat()}",
            ),
            (t("records.pdf.total"), t("records.hours", hours=f"{certificate.total_hours:g}")),
        ]
    )
    document.paragraph(
        t(
            "records.pdf.statement",
            name=certificate.volunteer_name,
            start=certificate.period_start.isoformat(),
            end=certificate.period_end.isoformat(),
            hours=f"{certificate.total_hours:g}",
            issuer=certificate.issuer_name,
        )
    )
    document.table(
        [t("records.col.date"), t("records.col.what"), t("records.col.place"), t("records.col.hours")],
        [[s.at, s.what, s.place, f"{s.hours:g}"] for s in certificate.services],
        widths=(28, 64, 50, 28),
    )
    document.fields(
        [
            (t("records.pdf.issuer"), certificate.issuer_name),
            (t("records.pdf.responsible"), certificate.responsible_person),
            (t("records.pdf.handler"), certificate.handler_name),
            (t("records.pdf.contact"), certificate.contact),
            (t("records.pdf.issued_on"), certificate.decided_at.astimezone(tz).date().isoformat()),
        ]
    )
    document.qr(verify_url, caption=t("records.pdf.scan"))
    return document.to_bytes()


EXPORT_KEYS = (
    "records.col.volunteer",
    "records.col.phone",
    "records.col.kind",
    "records.col.date",
    "records.col.what",
    "records.col.place",
    "records.col.hours",
    "records.col.original_hours",
    "records.col.recorded_by",
    "records.col.corrections",
)


def export_columns(t: Translate) -> list[str]:
    return [t(key) for key in EXPORT_KEYS]


def export_rows(
    lines: Sequence[RecordLine], people: dict[int, tuple[str, str]], t: Translate, tz: ZoneInfo
) -> list[Row]:
    return [
        [
            people[line.volunteer_id][0],
            people[line.volunteer_id][1],
            t(f"record_kind.{line.kind}"),
            line.at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            line.what,
            line.place,
            round(line.hours, 2),
            round(line.original_hours, 2),
            line.recorded_by,
            "; ".join(
                f"{c.hours:g} ({t('correction_reason.' + c.reason)}, {c.recorded_by}) {c.memo}".strip()
                for c in line.corrections
            ),
        ]
        for line in lines
    ]
