"""Page text: phone_resident (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {}
