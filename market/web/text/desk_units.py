"""Page text: desk_units (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {}
