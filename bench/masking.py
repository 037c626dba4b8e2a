"""Masked views at a street's size: free text masked for many residents against one resident's.

    .venv/bin/python bench/masking.py [--residents 20000] [--repeat 5]

A volunteer's board or offer list masks each resident's description and comment (`privacy.Mask`).
Each resident is masked by their own name, phone and places, so a street's lists mask thousands of
different residents, where a benchmark on the demo street masks a handful. Texts as residents write
them, without their phone, are masked once for each of --residents distinct residents, and as often
for one resident over and over: the baseline, the same work with all the masking keeps (Python's
`re` caches 512 compiled patterns) kept. The ratio is many ÷ one, best of --repeat runs each, taking
turns. Target: ≤ 1.5. Texts with each resident's own phone are shown too: there a resident's phone
pattern is compiled, once for each resident the cache no longer holds.

Not part of the test suite (pytest collects only tests/).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from market.privacy import Mask

TARGET = 1.5
WITHOUT_PHONE = ["帮忙买一周的米面油，放门口就行", "陪老人去社区医院复查", "家里水管漏水，需要修一下"]
# Each resident's own phone, written in groups and whole.
WITH_PHONE = [
    "到了请打电话 {0[0]}{0[1]}{0[2]} {0[3]}{0[4]}{0[5]}{0[6]} {0[7]}{0[8]}{0[9]}{0[10]}",
    "联系我女儿{0}",
]


def _residents(count: int) -> list[Mask]:
    return [Mask("王小明", f"137{n:08d}", ("3号楼", "2单元502"), n) for n in range(count)]


def _us(run: Callable[[], int]) -> float:
    """The CPU time `run` took (the machine is shared), in µs per text it masked."""
    started = time.process_time()
    texts = run()
    return (time.process_time() - started) / texts * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    many = _residents(args.residents)
    one = many[:1] * args.residents
    print(f"µs per text masked, {args.residents:,} distinct residents against one; ratio = many ÷ one")
    print(f"(! : above the target of {TARGET} for texts without the phone)")
    print(f"{'texts':<22}{'many':>8}{'one':>8}{'ratio':>8}")
    for label, texts in (("without the phone", WITHOUT_PHONE), ("with the phone", WITH_PHONE)):

        def mask_all(masks: list[Mask], texts: list[str] = texts) -> int:
            for mask in masks:
                for text in texts:
                    mask(text.format(mask.phone))
            return len(masks) * len(texts)

        timed = {"many": float("inf"), "one": float("inf")}
        for _ in range(args.repeat):  # taking turns
            for name, masks in (("many", many), ("one", one)):
                timed[name] = min(timed[name], _us(lambda m=masks: mask_all(m)))
        ratio = timed["many"] / timed["one"]
        mark = "!" if label == "without the phone" and ratio > TARGET else " "
        print(f"{label:<22}{timed['many']:8.2f}{timed['one']:8.2f}{ratio:8.2f}{mark}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
