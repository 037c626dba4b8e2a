"""Page text: desk_dispatch (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {}
