"""A small topical corpus for behaviour tests: two topics that share no content words.

Queries about one topic must find that topic first in any trained space; the
metadata carries a topic label and a numeric/boolean field for filter tests.
"""

from __future__ import annotations

from typing import Any

_SPORT = [
    "the striker scored a late goal and the football team won the league match",
    "the goalkeeper saved a penalty and the football fans cheered in the stadium",
    "the coach praised the team after the match as the striker scored twice",
    "football fans filled the stadium to watch the league match and the goal",
    "a penalty in the match gave the team the win and the fans celebrated the goal",
    "the league season ended with the striker top scorer and the goalkeeper best player",
    "the team trained in the stadium before the football match against the league leaders",
    "the coach changed the team and the striker scored a goal from a penalty",
    "the stadium was full as the football team won the match with a late goal",
    "the goalkeeper and the striker were named in the league team of the season",
]
_MARKETS = [
    "the central bank raised interest rates and the stock market fell sharply",
    "investors sold shares as the stock market dropped after the bank report",
    "interest rates and inflation worried investors and the shares fell",
    "the bank said inflation would rise and the market reacted with falling shares",
    "stock prices rose as investors bought shares after the central bank cut rates",
    "the market closed higher and investors welcomed lower inflation figures from the bank",
    "shares in the bank fell as interest rates rose and inflation climbed",
    "the stock market rallied and investors bought bank shares on lower interest rates",
    "inflation data moved the market and the central bank kept interest rates steady",
    "investors watched the stock market as bank shares rose on interest rates news",
]


def topical_documents() -> list[dict[str, Any]]:
    docs = []
    for i, text in enumerate(_SPORT):
        docs.append({"external_id": f"sport-{i}", "text": text, "metadata": {"topic": "sport", "n": i, "even": i % 2 == 0}})
    for i, text in enumerate(_MARKETS):
        docs.append({"external_id": f"market-{i}", "text": text, "metadata": {"topic": "markets", "n": i, "even": i % 2 == 0}})
    return docs
