"""Page text: errors (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {}
