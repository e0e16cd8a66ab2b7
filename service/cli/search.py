"""``vecdex search``, ``compare`` and ``hybrid``: queries over a collection's spaces.

Each builds the same request schema the HTTP route takes (so both doors
validate alike) and prints the response for a terminal, or as JSON.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from .common import FilterOption, cli_errors, highlighted, key_values, print_json, print_rows, vecdex

SNIPPET_CHARS = 160
"""Text fetched per hit: the terminal shows at most a 100-character snippet."""


def search(
    collection: str,
    query: str,
    k: Annotated[int, typer.Option("--k", "-k")] = 10,
    offset: Annotated[int, typer.Option(help="Skip the best OFFSET hits (page 2 of 10: --k 10 --offset 10).")] = 0,
    space: Annotated[Optional[str], typer.Option(help="Space name (default: the collection's default).")] = None,
    filter_: FilterOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the hits as JSON.")] = False,
    ef_search: Annotated[
        Optional[int], typer.Option("--ef-search", help="HNSW efSearch for this query (default: the space's).")
    ] = None,
    nprobe: Annotated[Optional[int], typer.Option(help="IVF lists probed for this query (default: the space's).")] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Exhaustive search (ground truth for recall).")] = False,
) -> None:
    """Search a collection's space for the documents nearest to QUERY."""
    from ..schemas import SearchParams, SearchRequest

    vx = vecdex()
    where = key_values(filter_, "--filter")
    with cli_errors():
        params = SearchParams(ef_search=ef_search, nprobe=nprobe, exact=exact)
        body = SearchRequest(
            query=query, k=k, offset=offset, filter=where, space=space, snippet_chars=SNIPPET_CHARS, params=params
        )
        response = vx.queries.search(collection=collection, body=body)
    if as_json:
        print_json({"space": response.space, "hits": [h.model_dump() for h in response.hits]})
        return
    ranked = list(enumerate(response.hits, offset + 1))
    print_rows(
        f"space {response.space}",
        ["#", "score", "id", "snippet"],
        [[str(r), f"{h.score:.4f}", h.external_id, highlighted(h.text, h.highlights)] for r, h in ranked],
        [f"space {response.space}:"]
        + [f"{r:>3}. {h.score:.4f}  {h.external_id}  {' '.join(h.text.split())[:100]}" for r, h in ranked],
        right=("#", "score"),
    )


def compare(
    collection: str,
    query: str,
    space: Annotated[
        Optional[list[str]], typer.Option("--space", "-s", help="Space to compare (repeatable; default: all ready).")
    ] = None,
    k: Annotated[int, typer.Option("--k", "-k")] = 5,
    filter_: FilterOption = None,
    width: Annotated[int, typer.Option(help="Column width per space.")] = 28,
    as_json: Annotated[bool, typer.Option("--json", help="Print results and overlaps as JSON.")] = False,
) -> None:
    """Run QUERY in several spaces and print their top-k side by side, with pairwise overlaps (Jaccard)."""
    from ..schemas import CompareRequest

    vx = vecdex()
    where = key_values(filter_, "--filter")
    with cli_errors():
        body = CompareRequest(query=query, k=k, spaces=space or None, filter=where, snippet_chars=SNIPPET_CHARS)
        response = vx.queries.compare(collection=collection, body=body)
    if as_json:
        print_json(
            {
                "results": {n: [h.model_dump() for h in hits] for n, hits in response.results.items()},
                "overlap": response.overlap,
            }
        )
        return
    typer.echo(side_by_side(response.results, k, width))
    for pair, value in response.overlap.items():
        typer.echo(f"overlap {pair.replace('|', ' / ')}: {value:.2f}")


def hybrid(
    collection: str,
    query: str,
    space: Annotated[
        Optional[list[str]], typer.Option("--space", "-s", help="Space to fuse (repeatable; default: all ready).")
    ] = None,
    k: Annotated[int, typer.Option("--k", "-k")] = 10,
    fusion: Annotated[str, typer.Option(help="rrf (reciprocal rank fusion) or weighted (min-max scores).")] = "rrf",
    weight: Annotated[
        Optional[list[str]], typer.Option("--weight", "-w", help="space=weight (repeatable; default 1 each).")
    ] = None,
    rrf_k: Annotated[float, typer.Option("--rrf-k", help="RRF's rank constant.")] = 60.0,
    candidates: Annotated[
        Optional[int], typer.Option(help="Hits taken from each space before fusing (default max(k, 50)).")
    ] = None,
    filter_: FilterOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fused hits as JSON.")] = False,
) -> None:
    """One ranking fused from several spaces' rankings of QUERY (e.g. bm25 + bert), as POST .../hybrid does."""
    from ..schemas import HybridRequest

    vx = vecdex()
    where = key_values(filter_, "--filter")
    weights = key_values(weight, "--weight")
    with cli_errors():
        body = HybridRequest.model_validate(
            {
                "query": query,
                "k": k,
                "spaces": space or None,
                "fusion": fusion,
                "weights": weights,
                "rrf_k": rrf_k,
                "candidates": candidates,
                "filter": where,
                "snippet_chars": SNIPPET_CHARS,
            }
        )
        response = vx.queries.hybrid(collection=collection, body=body)
    if as_json:
        print_json({"fusion": response.fusion, "spaces": response.spaces, "hits": [h.model_dump() for h in response.hits]})
        return
    title = f"{response.fusion} over {', '.join(response.spaces)}"
    ranked = [(rank, h, "  ".join(f"{n}#{r.rank}" for n, r in h.spaces.items())) for rank, h in enumerate(response.hits, 1)]
    print_rows(
        title,
        ["#", "score", "id", "ranked", "snippet"],
        [[str(r), f"{h.score:.4f}", h.external_id, w, highlighted(h.text, h.highlights)] for r, h, w in ranked],
        [f"{title}:"] + [f"{r:>3}. {h.score:.4f}  {h.external_id}  [{w}]  {' '.join(h.text.split())[:60]}" for r, h, w in ranked],
        right=("#", "score"),
    )


def side_by_side(results: dict[str, list[Any]], k: int, width: int) -> str:
    """Columns of ``external_id (score)``, one per space, one row per rank."""

    def cell(text: str) -> str:
        return (text if len(text) <= width else text[: width - 1] + "…").ljust(width)

    lines = ["     " + "  ".join(cell(name) for name in results)]
    rows = max((len(h) for h in results.values()), default=0)
    for rank in range(min(rows, k)):
        cells = [
            cell(f"{hits[rank].external_id} ({hits[rank].score:.3f})") if rank < len(hits) else cell("")
            for hits in results.values()
        ]
        lines.append(f"{rank + 1:>3}. " + "  ".join(cells))
    return "\n".join(line.rstrip() for line in lines)


def register(app: typer.Typer) -> None:
    app.command()(search)
    app.command()(compare)
    app.command()(hybrid)
