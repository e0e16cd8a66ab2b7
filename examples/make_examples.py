"""Writes the example files the README's tour uses (run from the repository root; deterministic).

    .venv/bin/python examples/make_examples.py

- ``notes.jsonl``: 16 short hand-written notes in two topics, with ``topic`` and ``year`` metadata.
- ``shop_items.jsonl`` and ``shop_events.csv``: a *synthetic* shop - 40 products in 4 planted groups
  and 60 users' sessions that walk mostly inside one group (``embedders.item2vec.synthetic.planted_log``,
  seed 7); real logs are in bench/ (MovieLens 100k), which cannot be redistributed here.
- ``news_pairs.tsv``: Lee et al. (2005)'s human similarity ratings of the 50 ``lee_test`` documents
  (mean of the raters, 1225 pairs; the matrix ships in gensim's test data), by the demo's external ids.
- ``news_queries.jsonl`` / ``news_qrels.txt``: 4 queries over the demo corpus, judged by a rule written
  before any search was run: a document is relevant (grade 1) when it mentions the topic's key term at
  least twice (``KEY_TERMS`` below; the queries avoid the key terms where they can).
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent

NOTES = [
    ("sport", 2023, "The striker scored a late goal to win the cup final."),
    ("sport", 2023, "Fans filled the stadium for the derby on Saturday."),
    ("sport", 2024, "The goalkeeper saved a penalty in the second half."),
    ("sport", 2024, "The coach praised the midfield after a narrow win."),
    ("sport", 2024, "A hat-trick from the young forward sealed the match."),
    ("sport", 2025, "The team trained in the rain before the away game."),
    ("sport", 2025, "The referee sent off a defender for a late tackle."),
    ("sport", 2025, "The league title was decided on goal difference."),
    ("markets", 2023, "The central bank raised interest rates by a quarter point."),
    ("markets", 2023, "Shares in the bank fell as inflation climbed."),
    ("markets", 2024, "Bond yields rose after the inflation report."),
    ("markets", 2024, "The currency weakened against the dollar on rate fears."),
    ("markets", 2024, "Investors sold technology shares ahead of the earnings."),
    ("markets", 2025, "The central bank kept interest rates steady in March."),
    ("markets", 2025, "Oil prices pushed inflation higher across the region."),
    ("markets", 2025, "The stock market closed at a record high on Friday."),
]

GROUPS = ["trail running shoe", "single-origin coffee", "strategy board game", "garden hand tool"]

QUERIES = {
    "q-mideast": ("Palestinian leader under pressure over violence against Israelis", r"\bArafat\b"),
    "q-cricket": ("batsmen and bowlers in the test series", r"\bcricket|wicket"),
    "q-afghan": ("fighting in Afghanistan and the hunt for Osama bin Laden", r"\bTaliban\b"),
    "q-airline": ("airline collapse leaves passengers stranded", r"\bairline|Qantas"),
}
KEY_TERMS = {qid: pattern for qid, (_, pattern) in QUERIES.items()}


def notes() -> None:
    with open(HERE / "notes.jsonl", "w", encoding="utf-8") as f:
        for i, (topic, year, text) in enumerate(NOTES, 1):
            f.write(json.dumps({"external_id": f"n{i}", "text": text, "metadata": {"topic": topic, "year": year}}) + "\n")


def shop() -> None:
    from embedders.item2vec.synthetic import planted_log

    log, groups = planted_log(n_users=60, n_groups=4, items_per_group=10, sessions_per_user=5, seed=7)
    with open(HERE / "shop_items.jsonl", "w", encoding="utf-8") as f:
        for item, group in sorted(groups.items()):
            text = f"{GROUPS[group]} no. {item}"
            f.write(json.dumps({"external_id": f"sku-{item}", "text": text, "metadata": {"group": GROUPS[group]}}) + "\n")
    with open(HERE / "shop_events.csv", "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["user", "item", "timestamp", "event", "weight"])
        for e in log:
            when = datetime.fromtimestamp(e.ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            out.writerow([e.user, f"sku-{e.item}", when, "view", ""])


def news() -> None:
    from embedders.datasets import lee_background, lee_human_similarity, lee_test

    rated = [f"lee-test-{i:02d}" for i in range(1, 51)]
    human = lee_human_similarity()
    with open(HERE / "news_pairs.tsv", "w", encoding="utf-8") as f:
        f.write("id_a\tid_b\tscore\n")
        for i in range(50):
            for j in range(i + 1, 50):
                f.write(f"{rated[i]}\t{rated[j]}\t{float(human[i, j]):.4f}\n")
    docs = {f"lee-bg-{i:03d}": t for i, t in enumerate(lee_background(), 1)}
    docs.update({rated[i - 1]: t for i, t in enumerate(lee_test(), 1)})
    with open(HERE / "news_queries.jsonl", "w", encoding="utf-8") as q, open(HERE / "news_qrels.txt", "w") as r:
        for qid, (text, pattern) in QUERIES.items():
            q.write(json.dumps({"id": qid, "text": text}) + "\n")
            for doc_id, body in docs.items():
                if len(re.findall(pattern, body, flags=re.IGNORECASE)) >= 2:
                    r.write(f"{qid} 0 {doc_id} 1\n")


if __name__ == "__main__":
    notes()
    shop()
    news()
