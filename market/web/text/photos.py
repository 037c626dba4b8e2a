"""Page text: order photos — the inputs, the thumbnails and every refusal (key: (zh-CN, English))."""

TEXT: dict[str, tuple[str, str]] = {
    "photos.field_posted": ("照片（选填，最多 3 张）", "Photos (optional, up to 3)"),
    "photos.field_result": ("完成照片（选填，最多 3 张）", "Photos of the work done (optional, up to 3)"),
    "photos.hint": (
        "JPEG、PNG 或 WebP。拍摄地点等信息会被去掉；只有能看到这张单子全部信息的人能看到照片。",
        "JPEG, PNG or WebP. Where it was taken is removed; only those who see the order in full see its photos.",
    ),
    "photos.posted": ("点单照片", "Photos of the need"),
    "photos.result": ("完成照片", "Photos of the work done"),
    "photos.open": ("查看原图 {n}", "Open photo {n}"),
    # Refusals (market/photos)
    "error.photo_type_not_allowed": (
        "只能上传 JPEG、PNG 或 WebP 格式的照片。",
        "Photos must be JPEG, PNG or WebP images.",
    ),
    "error.photo_too_large": (
        "照片文件太大，请换一张小一些的。",
        "A photo is too large; choose a smaller one.",
    ),
    "error.photo_too_many_pixels": (
        "照片像素太多，请降低相机分辨率或截图后再上传。",
        "A photo has too many pixels; lower the camera's resolution or take a screenshot of it.",
    ),
    "error.photo_unreadable": ("照片无法读取，请重新拍一张。", "A photo could not be read; take it again."),
    "error.photo_missing": ("请选择要上传的照片。", "Choose the photos to upload."),
    "error.photo_not_found": ("没有找到这张照片。", "This photo does not exist."),
    "error.too_many_photos": (
        "每张单子最多 3 张点单照片和 3 张完成照片。",
        "An order takes at most 3 photos of the need and 3 of the work done.",
    ),
    "error.photos_closed": (
        "现在不能再给这张单子添加这类照片。",
        "This order takes no more photos of this kind now.",
    ),
    "error.photos_hidden_until_held": (
        "接单后才能看到这张单子的照片。",
        "The order's photos are shown once you have accepted it.",
    ),
}
