"""Page text: phone_volunteer (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {}
