"""Page text: desk_areas and desk_setup — the area tree and its import, budgets, the points policy,
auto-dispatch and service categories (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {
    "nav.areas": ("区域管理", "Areas"),
    "nav.budgets": ("积分预算", "Budgets"),
    "nav.policy": ("积分规则", "Points policy"),
    "nav.auto_dispatch": ("自动派单", "Auto-dispatch"),
    "nav.categories": ("服务类别", "Service categories"),
    # The area tree
    "areas.title": ("区域管理", "Areas"),
    "areas.tabs": ("区域管理栏目", "Area sections"),
    "areas.tab_tree": ("区域树", "Area tree"),
    "areas.tab_import": ("从表格导入", "Import from a spreadsheet"),
    "areas.trail": ("所在位置", "Where you are"),
    "areas.none": ("这里还没有区域。", "There are no areas here yet."),
    "areas.children_n": ("下设 {n} 个", "{n} inside"),
    "areas.new_name": ("名称", "Name"),
    "areas.rename": ("改名", "Rename"),
    "areas.add_title": ("添加{level}", "Add a {level}"),
    "areas.name": ("名称", "Name"),
    "areas.code": ("编码", "Code"),
    "areas.parent_code": ("上级编码", "Parent code"),
    "areas.code_hint_street": (
        "街道编码为 9 位数字（统计用区划代码）。",
        "A street's code has 9 digits (its statistical division code).",
    ),
    "areas.code_hint": (
        "{digits} 位数字，以 {prefix} 开头；不填则自动编号。",
        "{digits} digits starting with {prefix}; left empty, the next free number is taken.",
    ),
    "areas.add": ("添加", "Add"),
    "notice.area_added": ("区域已添加。", "The area is added."),
    "notice.area_renamed": ("区域已改名。", "The area is renamed."),
    "notice.areas_imported": ("区域已导入。", "The areas are imported."),
    # Importing the tree
    "areas.import_title": ("从表格导入区域", "Import areas from a spreadsheet"),
    "areas.import_hint": (
        "每行一个区域：编码、名称、上级编码（街道不填上级编码）。Excel（.xlsx）或 CSV，最大 {mb} MB。"
        "先预览，确认无误后再导入；同一个文件再导入一次不会重复添加，名称有变化的会改名。",
        "One area a row: code, name, parent code (none for a street). Excel (.xlsx) or CSV, at most "
        "{mb} MB. Preview first, then import; importing the same file again adds nothing twice, and "
        "a changed name renames the area.",
    ),
    "areas.template": ("模板", "Template"),
    "areas.template_zh": ("中文模板", "Chinese template"),
    "areas.template_en": ("英文模板", "English template"),
    "areas.file": ("表格文件", "Spreadsheet file"),
    "areas.preview": ("预览", "Preview"),
    "areas.preview_title": ("预览", "Preview"),
    "areas.preview_rejected": (
        "有 {n} 行有问题，请改正文件后重新上传。什么都还没有导入。",
        "{n} rows have problems: correct the file and upload it again. Nothing has been imported.",
    ),
    "areas.preview_summary": (
        "将新增 {created} 个区域，改名 {renamed} 个，{unchanged} 个不变。还没有导入：请确认。",
        "{created} areas will be added, {renamed} renamed, {unchanged} stay as they are. Nothing is "
        "imported yet: confirm below.",
    ),
    "areas.col_line": ("行号", "Line"),
    "areas.col_level": ("级别", "Level"),
    "areas.col_result": ("结果", "Result"),
    "areas.column.code": ("编码", "Code"),
    "areas.column.name": ("名称", "Name"),
    "areas.column.parent_code": ("上级编码", "Parent code"),
    "areas.action.create": ("新增", "Add"),
    "areas.action.rename": ("改名", "Rename"),
    "areas.action.unchanged": ("不变", "No change"),
    "areas.confirm_import": ("确认导入", "Import"),
    "areas.cancel": ("取消", "Cancel"),
}
