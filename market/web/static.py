"""The file system the static files are served from.

A path the operating system cannot even look up - one holding NUL (`/static/market.js%00.png`),
a name longer than the file system allows, a file taken for a folder (`/static/market.js/x`) -
names no static file: a 404 like any other missing file, not the 500 Litestar's local file system
gives for errors other than "not found".
"""

from __future__ import annotations

from typing import Any

from litestar.file_system import BaseLocalFileSystem
from litestar.types import PathType
from litestar.types.file_types import FileInfo


class StaticFileSystem(BaseLocalFileSystem):
    async def info(self, path: PathType, **kwargs: Any) -> FileInfo:
        try:
            return await super().info(path, **kwargs)
        except (OSError, ValueError) as error:  # ValueError: "embedded null byte"
            raise FileNotFoundError(str(path)) from error
