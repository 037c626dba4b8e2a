"""Page text: desk_home, the desk's overview of today (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {
    "nav.overview": ("今日概览", "Today"),
    "home.title": ("今日概览", "Today at the desk"),
    "home.intro": (
        "您辖区内今天要处理的事；点数字进入对应页面。",
        "What needs doing in your area today; each number opens its page.",
    ),
    "home.tile.waiting": ("待派单", "Orders waiting"),
    "home.tile.late": ("已超时", "Orders late"),
    "home.tile.escalated": ("已上报", "Orders escalated"),
    "home.tile.approvals": ("待审核", "Approvals waiting"),
    "home.tile.commitments": ("待单位确认的认领", "Commitments to confirm"),
    "home.tile.owed": ("欠发积分", "Owed rewards"),
    "home.tile.overdue_responsibilities": ("逾期未完成的分工", "Overdue responsibilities"),
    "home.col.project": ("项目", "Project"),
    "home.tile.low_pools": ("积分池余额不足", "Pools running low"),
    "home.low_pools": ("余额不足 {points} 分的积分池", "Pools with less than {points} points left"),
    "home.col.pool": ("积分池", "Pool"),
    "home.col.available": ("可用积分", "Available"),
    "home.pages": ("工作台页面", "Desk pages"),
}
