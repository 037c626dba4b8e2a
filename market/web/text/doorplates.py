"""Page text: doorplate codes (desk_doorplates, phone_place) and grid informants (phone_informant)
(key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {
    # The sheet
    "doorplates.link": ("打印门牌码", "Print doorplate codes"),
    "doorplates.title": ("门牌码 · {area}", "Doorplate codes · {area}"),
    "doorplates.back": ("返回区域", "Back to the areas"),
    "doorplates.pick": ("打印哪个区域的门牌码", "Print the codes of"),
    "doorplates.show": ("显示", "Show"),
    "doorplates.hint": (
        "共 {n} 个门牌码。用浏览器的打印功能打印在 A4 纸上；重新打印的码不变。",
        "{n} codes. Print them on A4 with the browser's print; a reprint carries the same codes.",
    ),
    "doorplates.unissued": (
        "还有 {n} 个楼栋或小区没有门牌码。",
        "{n} buildings or compounds have no doorplate code yet.",
    ),
    "doorplates.issue": ("生成门牌码", "Issue their codes"),
    "doorplates.qr_label": ("{place}的门牌二维码", "The doorplate QR code of {place}"),
    "notice.doorplates_issued": ("门牌码已生成。", "The doorplate codes are issued."),
    "doorplates.revoke": ("作废", "Revoke"),
    "doorplates.revoke_named": ("作废{place}的门牌码", "Revoke the code of {place}"),
    "doorplates.revoke_confirm": (
        "作废{place}的门牌码？扫描旧码将显示“已作废”，这里在重新生成前没有门牌码。",
        "Revoke the doorplate code of {place}? Scanning the old code will say it was revoked, and the "
        "place has no code until a new one is issued.",
    ),
    "doorplates.replace": ("换新码", "Replace the code"),
    "doorplates.replace_named": ("给{place}换新码", "Replace the code of {place}"),
    "doorplates.replace_confirm": (
        "作废{place}的门牌码并生成新码？旧门牌需要换成新打印的。",
        "Revoke the doorplate code of {place} and issue a new one? The old plate must be replaced "
        "with the new print.",
    ),
    "notice.doorplate_revoked": (
        "门牌码已作废。需要新码时点“生成门牌码”。",
        "The doorplate code is revoked. Issue a new one with “Issue their codes” when needed.",
    ),
    "notice.doorplate_replaced": (
        "旧门牌码已作废，新码已生成，请打印换上。",
        "The old code is revoked and a new one issued: print it and replace the plate.",
    ),
    # The place a plate opens
    "place.post_order": ("在这里点单", "Post an order here"),
    "place.login_first": (
        "点单前需要登录；还没有账号可以注册，之后会回到点单页。",
        "Log in first to post an order; without an account, sign up — you come back to the form.",
    ),
    "place.grid_worker_title": ("网格员", "Grid worker"),
    "place.call": ("给网格员 {name} 打电话", "Call the grid worker {name}"),
    "place.call_short": ("拨打", "Call"),
    "place.no_grid_worker": ("这个网格暂时没有网格员。", "This grid has no grid worker yet."),
    "place.wishes_title": ("这里的微心愿", "Open wishes here"),
    "place.no_wishes": ("这里暂时没有待认领的微心愿。", "No open wishes here at the moment."),
    # Grid informants
    "nav.informant_reports": ("信息上报", "My reports"),
    "informant.reports_title": ("我上报的需求", "What I reported"),
    "informant.new_report": ("为邻居上报需求", "Report a neighbour's need"),
    "informant.reported_at": ("上报于 {at}", "Reported {at}"),
    "informant.changed_at": ("更新于 {at}", "Updated {at}"),
    "informant.no_reports": ("您还没有上报过需求。", "You have reported nothing yet."),
    "informant.find_label": ("邻居的手机号", "The neighbour's phone number"),
    "informant.find": ("查找", "Find"),
    "informant.choose": ("为其上报", "Report for them"),
    "informant.none_found": (
        "本网格没有这个手机号的居民，可以在下面登记。",
        "No resident of your grid has this number; register them below.",
    ),
    "informant.register_heading": ("登记新邻居", "Register a neighbour"),
    "informant.for_neighbour": ("为 {name} 上报", "Reporting for {name}"),
    "informant.submit": ("上报", "Report"),
    "notice.informant_neighbour_registered": ("已登记，请填写需求。", "Registered; now what they need."),
    "notice.informant_reported": ("已上报，网格员会安排。", "Reported; the grid worker takes it from here."),
}
