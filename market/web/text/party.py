"""Page text: 双报到 (party members reporting in), their year's evaluation and the letters, unit
reviews (述职评议) and ratings, resident credit (信用积分) (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {
    # Domain words
    "party_grade.excellent": ("优秀", "Excellent"),
    "party_grade.qualified": ("合格", "Qualified"),
    "party_grade.basically_qualified": ("基本合格", "Basically qualified"),
    "party_grade.unqualified": ("不合格", "Unqualified"),
    "report_status.pending": ("待确认", "Pending"),
    "report_status.confirmed": ("已报到", "Confirmed"),
    "report_status.declined": ("未通过", "Declined"),
    "credit_source.project": ("参加项目活动", "Took part in a project"),
    "credit_source.wish": ("完成微心愿", "Fulfilled a wish"),
    "credit_source.compact": ("遵守居民公约", "Kept the residents' compact"),
    "compact_reason.environment": ("爱护环境", "Caring for the environment"),
    "compact_reason.neighbourly_help": ("邻里互助", "Helping neighbours"),
    "compact_reason.civility": ("文明行为", "Civil conduct"),
    "compact_reason.safety": ("平安巡防", "Safety patrols"),
    "compact_reason.other": ("其他", "Other"),
    "rater_kind.resident": ("参与居民", "Resident who took part"),
    "rater_kind.community": ("社区", "Community"),
    # Letters to the employer (PDF)
    "party.letter.title": (
        "{year}年度在职党员社区报到情况反馈函",
        "Community report on an in-service party member, {year}",
    ),
    "party.letter.to": ("{employer}：", "To {employer}:"),
    "party.letter.body": (
        "贵单位在职党员{name}同志已到{community}报到。现将其{year}年度参加社区服务的情况及社区评价反馈如下。",
        "{name}, an in-service party member of your organisation, has reported in to {community}. "
        "Here is their part in community service in {year} and the community's evaluation.",
    ),
    "party.letter.name": ("姓名", "Name"),
    "party.letter.employer": ("工作单位", "Employer"),
    "party.letter.hours": ("服务时长", "Hours of service"),
    "party.letter.hours_value": ("{hours} 小时", "{hours} h"),
    "party.letter.orders": ("服务订单", "Orders served"),
    "party.letter.wishes": ("认领心愿", "Wishes claimed"),
    "party.letter.projects": ("参与项目", "Projects joined"),
    "party.letter.ratings": ("居民评价", "Residents' ratings"),
    "party.letter.rating": ("{count} 条，平均 {average} 星", "{count}, {average} stars on average"),
    "party.letter.no_rating": ("暂无评价", "None yet"),
    "party.letter.grade": ("社区评定等次", "The community's grade"),
    "party.letter.comment": ("社区意见", "The community's comment"),
    "party.letter.none": ("本年度还没有评定的党员。", "No member has been evaluated this year."),
    "party.commendation.title": ("表扬信", "Letter of commendation"),
    "party.commendation.body": (
        "贵单位在职党员{name}同志{year}年度在{community}参加志愿服务{hours}小时，超过社区设定的{threshold}小时，"
        "热心社区公益，表现突出。特致函表扬，并向贵单位表示感谢。",
        "{name}, an in-service party member of your organisation, served {community} as a volunteer for {hours} "
        "hours in {year}, more than the community's mark of {threshold} hours. We commend them and thank you.",
    ),
    "party.commendation.none": (
        "本年度没有超过表扬时长的党员。",
        "No member served above the mark this year.",
    ),
}
