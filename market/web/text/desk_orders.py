"""Page text: desk_orders, entering an order for a resident (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {
    "nav.enter_order": ("代下单", "Enter an order"),
    "entry.title": ("代居民下单", "Enter an order for a resident"),
    "entry.step_resident": ("1. 找到居民", "1. Find the resident"),
    "entry.step_order": ("2. 填写点单", "2. The order"),
    "entry.find_heading": ("查找居民", "Find the resident"),
    "entry.find_label": ("手机号或姓名", "Phone number or name"),
    "entry.find": ("查找", "Find"),
    "entry.col.name": ("姓名", "Name"),
    "entry.col.phone": ("手机号", "Phone"),
    "entry.col.home": ("住址", "Home"),
    "entry.choose": ("为其下单", "Enter an order"),
    "entry.more_found": (
        "共找到 {total} 人，只显示前 {shown} 人；请输入更完整的手机号或姓名。",
        "{total} found, the first {shown} shown; type more of the phone number or name.",
    ),
    "entry.none_found": (
        "本辖区没有找到这位居民，可以在下面当场登记。",
        "No resident of your area matches; register them below.",
    ),
    "entry.register_heading": ("当场登记居民", "Register the resident now"),
    "entry.register_help": (
        "只需手机号、姓名和楼栋，不设密码；居民以后需要自己登录时，可由网格员为其重置密码。",
        "A phone number, a name and a building are enough; no password is set. Should the resident"
        " want to log in later, a grid worker can reset their password.",
    ),
    "entry.field.phone": ("手机号", "Phone number"),
    "entry.field.name": ("姓名", "Name"),
    "entry.field.building": ("楼栋", "Building"),
    "entry.no_buildings": ("您的辖区里还没有楼栋。", "Your area has no buildings yet."),
    "entry.register": ("登记并继续", "Register and continue"),
    "entry.for_heading": ("为这位居民下单", "Ordering for"),
    "entry.change_resident": ("换一位居民", "Choose another resident"),
    "entry.field.channel": ("来源", "How it came in"),
    "entry.field.category": ("服务类别", "Service"),
    "entry.field.description": ("需要什么帮助", "What help is needed"),
    "entry.field.place": ("服务地点", "Where"),
    "entry.no_places": (
        "这位居民所在社区里没有您辖区内的楼栋或小区。",
        "The resident's community has no building or compound in your area.",
    ),
    "entry.field.address_detail": ("单元、门牌或怎么走", "Unit, room or directions"),
    "entry.field.window_start": ("开始时间", "From"),
    "entry.field.window_end": ("结束时间", "Until"),
    "entry.field.urgency": ("紧急程度", "Urgency"),
    "entry.submit": ("提交点单", "Enter the order"),
    "notice.desk_resident_registered": (
        "居民已登记，请填写点单。",
        "The resident is registered; now the order.",
    ),
    "notice.desk_order_entered": (
        "点单已提交，居民会收到通知。",
        "The order is entered; the resident has been told.",
    ),
    "dispatch.col.entered_by": ("代下单", "Entered by"),
    "dispatch.entered_by": ("{name}（{channel}）", "{name} ({channel})"),
}
