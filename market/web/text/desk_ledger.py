"""Page text: desk_ledger (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {}
