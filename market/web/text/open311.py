"""Page text: desk_open311 — the Open311 keys of a street's integrating systems (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {
    "nav.open311": ("Open311 接入", "Open311 keys"),
    "open311.title": ("Open311 接入密钥", "Open311 keys"),
    "open311.intro": (
        "热线、城市平台等系统用密钥通过 Open311 GeoReport v2（/open311/v2）提交诉求；每条诉求成为一张代下单，"
        "来源记为系统名，由签发人录入。密钥只在签发时显示一次，只保存其摘要；作废后立即失效。",
        "Hotlines and city platforms post service requests through Open311 GeoReport v2 (/open311/v2) "
        "with a key; each request becomes an order entered for the reporter, its channel the system's "
        "name, entered by whoever issued the key. A key is shown once, when it is issued, and only its "
        "hash is kept; a revoked key stops working at once.",
    ),
    "open311.col_system": ("系统", "System"),
    "open311.col_street": ("街道（辖区编码）", "Street (jurisdiction_id)"),
    "open311.col_key": ("密钥开头", "Key begins"),
    "open311.col_issued": ("签发", "Issued"),
    "open311.col_used": ("最近提交", "Last post"),
    "open311.col_state": ("状态", "State"),
    "open311.active": ("有效", "Active"),
    "open311.revoked": ("已作废 {at}", "Revoked {at}"),
    "open311.revoke": ("作废", "Revoke"),
    "open311.revoke_confirm": (
        "作废后该系统无法再提交诉求。确定作废？",
        "The system can no longer post. Revoke?",
    ),
    "open311.empty": ("还没有密钥。", "No keys yet."),
    "open311.issue_title": ("签发新密钥", "Issue a key"),
    "open311.street": ("街道", "Street"),
    "open311.system": ("系统名", "System name"),
    "open311.system_hint": (
        "2 到 16 个小写字母、数字或下划线，如 hotline12345；诉求的来源记为此名。",
        "2 to 16 lower-case letters, digits or _, such as hotline12345; its requests' channel.",
    ),
    "open311.issue": ("签发", "Issue"),
    "open311.new_key": (
        "新密钥（只显示这一次，请立即交给对方系统）：",
        "The new key (shown this once: hand it over now):",
    ),
    "notice.api_key_revoked": ("密钥已作废。", "The key is revoked."),
}
