"""How the app reads a request body, for the one case Litestar leaves to a 500.

JSON nested deeper than Python's recursion limit (about 1,000 levels: `[[[[...]]]]`) makes
msgspec raise RecursionError while decoding the body, and Litestar lets it through as a 500. The
body is what is wrong, so it is a 400 problem like any other malformed body. msgspec decodes with
C recursion that counts against the stack already in use, so the depth that fails varies by a few
levels; what decodes is then refused by the schemas (no request schema nests that deep).

Wired in create_app as `request_class=MarketRequest`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from market.errors import InvalidInput


class MarketRequest(Request):
    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise InvalidInput("The JSON body is nested too deeply.", code="too_deeply_nested") from None
