"""Page text: desk_projects (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {}
