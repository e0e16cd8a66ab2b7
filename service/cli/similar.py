"""``vecdex similar``: more like this, a stored document's neighbours in one space or in several combined.

The same use cases as ``POST /collections/{c}/documents/{id}/similar`` and
``.../similar/combined``, through the same request schemas, so both doors
validate alike (a keyword space among ``--space`` of a combination is the same
422 ``spaces[i]`` as over HTTP, here an ``error`` line).
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from .common import FilterOption, cli_errors, key_values, print_json, vecdex

SNIPPET_CHARS = 160
"""Text fetched per hit: the terminal shows at most a 100-character snippet."""


def similar(
    collection: str,
    document: Annotated[str, typer.Argument(help="External id of the stored document.")],
    k: Annotated[int, typer.Option("--k", "-k")] = 10,
    space: Annotated[
        Optional[list[str]],
        typer.Option(
            "--space", "-s",
            help="Space (default: the collection's default); repeat it (two or more) to combine vector spaces.",
        ),
    ] = None,
    weight: Annotated[
        Optional[list[str]],
        typer.Option(
            "--weight", "-w",
            help="space=weight for a combination (repeatable); default: the collection's fitted weights, else equal.",
        ),
    ] = None,
    candidates: Annotated[
        Optional[int], typer.Option(help="Neighbours taken from each space before combining (default max(k, 50)).")
    ] = None,
    filter_: FilterOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the response as JSON.")] = False,
) -> None:
    """Documents most like DOCUMENT (itself excluded): in one space, or by the combined similarity of several."""
    from ..schemas import SimilarRequest
    from ..similar_schemas import CombinedSimilarRequest

    vx = vecdex()
    where = key_values(filter_, "--filter")
    spaces = space or []
    with cli_errors():
        if len(spaces) >= 2 or weight:
            weights = {name: float(value) for name, value in key_values(weight, "--weight").items()}
            body = CombinedSimilarRequest(
                k=k, spaces=spaces, weights=weights, candidates=candidates, filter=where, snippet_chars=SNIPPET_CHARS
            )
            combined = vx.queries.similar_combined(collection=collection, external_id=document, body=body)
            if as_json:
                print_json(combined.model_dump())
                return
            shown = ", ".join(f"{name} {combined.weights[name]:.3g}" for name in combined.spaces)
            typer.echo(f"combined {'+'.join(combined.spaces)} (weights {combined.weights_from}: {shown}):")
            _print_hits(combined.hits, per_space=True)
            return
        one = SimilarRequest(k=k, filter=where, space=spaces[0] if spaces else None, snippet_chars=SNIPPET_CHARS)
        response = vx.queries.similar(collection=collection, external_id=document, body=one)
    if as_json:
        print_json({"space": response.space, "hits": [h.model_dump() for h in response.hits]})
        return
    typer.echo(f"space {response.space}:")
    _print_hits(response.hits, per_space=False)


def _print_hits(hits: list[Any], *, per_space: bool) -> None:
    for rank, h in enumerate(hits, 1):
        snippet = " ".join(h.text.split())[:100]
        scores = "  [" + ", ".join(f"{s} {v:.3f}" for s, v in h.scores.items()) + "]" if per_space else ""
        typer.echo(f"{rank:>3}. {h.score:.4f}  {h.external_id}{scores}  {snippet}")


def register(app: typer.Typer) -> None:
    app.command()(similar)
