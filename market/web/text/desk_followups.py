"""Page text: desk_followups, the follow-ups (回访) after confirmed orders (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {
    "nav.followups": ("回访", "Follow-ups"),
    "followups.title": ("服务回访", "Follow-ups"),
    "followups.intro": (
        "低分评价、居民投诉和社区抽样的点单，在确认后要回访居民；到期前打电话并登记结果。",
        "Orders rated low, complained about or in the community's sample are followed up after they are"
        " confirmed: call the resident before the due date and record how it went.",
    ),
    "followups.shows": ("回访状态", "Which follow-ups"),
    "followups.show.open": ("待回访", "Open"),
    "followups.show.due": ("未到期", "Due"),
    "followups.show.overdue": ("已逾期", "Overdue"),
    "followups.show.done": ("已回访", "Done"),
    "followups.reason": ("回访原因", "Why"),
    "followups.any_reason": ("全部原因", "Any reason"),
    "followups.filter": ("筛选", "Filter"),
    "followups.col.due": ("回访期限", "Due by"),
    "followups.col.order": ("点单", "Order"),
    "followups.col.resident": ("居民", "Resident"),
    "followups.col.rating": ("评价", "Rating"),
    "followups.col.outcome": ("回访结果", "Outcome"),
    "followups.overdue": ("已逾期", "Overdue"),
    "followups.served_by": ("服务志愿者：{name}", "Served by {name}"),
    "followups.no_rating": ("未评分", "Not rated"),
    "followups.recorded": ("{name} 登记于 {at}", "Recorded by {name}, {at}"),
    "followups.choose": ("请选择", "Choose"),
    "followups.note": ("回访记录（选填）", "Note (optional)"),
    "followups.record": ("登记结果", "Record"),
    "followups.empty": ("这里没有回访。", "No follow-ups here."),
    "notice.followup_recorded": ("回访结果已登记。", "The follow-up's outcome is recorded."),
    # Desk home
    "home.tile.followups_due": ("待回访", "Follow-ups due"),
    "home.tile.followups_overdue": ("回访已逾期", "Follow-ups overdue"),
    # The community's sample, on the auto-dispatch page
    "auto.sample": ("抽样回访比例", "Follow-up sample"),
    "auto.sample_hint": (
        "除低分和投诉外，每个社区还按这个比例抽取已确认的点单回访（默认 10%）。",
        "Besides low ratings and complaints, each community follows up this share of its confirmed orders"
        " (10% unless set).",
    ),
    "auto.sample_percent": ("抽样比例（%）", "Sample (%)"),
    "auto.sample_save": ("保存", "Save"),
    "notice.followup_sample_saved": ("回访抽样比例已保存。", "The follow-up sample is saved."),
}
