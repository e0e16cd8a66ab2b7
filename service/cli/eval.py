"""``vecdex eval``: retrieval, similarity and word evaluations of a collection's spaces, and their stored runs.

Every run goes through the service's own query path (``vx.evaluations``) and is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .common import cli_errors, fail, print_json, print_rows, vecdex

eval_app = typer.Typer(
    help="Evaluate a collection's spaces (retrieval, document similarity, word similarity/analogies); runs are stored.",
    no_args_is_help=True,
)

SpacesOption = Annotated[
    Optional[list[str]], typer.Option("--space", "-s", help="Space to evaluate (repeatable; default: every space).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the results as JSON.")]
PlotOption = Annotated[Optional[Path], typer.Option("--plot", help="Also write a PNG bar chart of the metrics per space.")]


def _scalars(metrics: dict[str, Any] | None) -> dict[str, float | None]:
    return {k: v for k, v in (metrics or {}).items() if isinstance(v, (int, float)) or v is None}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def metrics_table(rows: list[tuple[str, str, dict[str, Any] | None]]) -> list[str]:
    """One row per space, one column per (scalar) metric; a space without metrics shows its status."""
    columns = list(dict.fromkeys(k for _, _, metrics in rows for k in _scalars(metrics)))
    width = max([5] + [len(space) for space, _, _ in rows]) + 2
    header = f"{'space':<{width}}" + "".join(f"{c:>{max(10, len(c) + 2)}}" for c in columns)
    lines = [header]
    for space, status, metrics in rows:
        if metrics is None:
            lines.append(f"{space:<{width}}  {status}")
            continue
        values = _scalars(metrics)
        lines.append(f"{space:<{width}}" + "".join(f"{_fmt(values.get(c)):>{max(10, len(c) + 2)}}" for c in columns))
    return lines


def _report(task: str, dataset: str, results: list, as_json: bool, plot: Optional[Path]) -> None:  # type: ignore[type-arg]
    if as_json:
        print_json({"task": task, "dataset": dataset, "results": [{**r.as_dict(), "params": r.params} for r in results]})
    else:
        rows = [(r.space, r.status + (f" ({r.reason})" if r.reason else ""), r.metrics) for r in results]
        columns = list(dict.fromkeys(k for _, _, metrics in rows for k in _scalars(metrics)))
        print_rows(
            f"{task} on {dataset}",
            ["space", "status", *columns],
            [[space, status, *(_fmt(_scalars(metrics).get(c)) if metrics else "" for c in columns)]
             for space, status, metrics in rows],
            [f"{task} on {dataset}:", *metrics_table(rows)],
            right=columns,
        )
        for r in results:
            if r.embedder_type == "combination":
                weights = ", ".join(f"{k} {v:.2f}" for k, v in r.params["weights"].items())
                held = r.params.get("held_out")
                typer.echo(
                    f"  {r.space}: {'fitted' if r.params['fitted'] else 'equal'} weights {weights}"
                    + (f"; held-out pearson {_fmt(held['pearson'])}" if held else "")
                )
            for name, s in (r.metrics or {}).get("sections", {}).items():
                typer.echo(f"  {r.space} {name}: {s['correct']}/{s['total']} = {_fmt(s['accuracy'])} ({s['oov']} oov)")
    if plot is not None:
        from ..evaluation.plot import plot_metrics

        rows = {r.space: _scalars(_plotted(r.metrics)) for r in results if r.metrics}
        if not rows:
            typer.secho("no space has metrics: no plot written", err=True, fg="yellow")
            return
        plot_metrics(f"{task} on {dataset}", rows, plot)
        if not as_json:
            typer.echo(f"plot written to {plot}")


def _plotted(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """Scores on a 0..1-ish scale only: counts (queries, pairs, oov) would flatten the chart."""
    skip = ("queries", "pairs", "oov", "questions")
    return {k: v for k, v in (metrics or {}).items() if not any(k.endswith(s) for s in skip)}


@eval_app.command("retrieval")
def eval_retrieval(
    collection: str,
    queries: Annotated[Path, typer.Option("--queries", help='JSON lines {"id": ..., "text": ...}.')],
    qrels: Annotated[Path, typer.Option("--qrels", help="TREC qrels: 'qid 0 external_id relevance' lines.")],
    space: SpacesOption = None,
    k: Annotated[Optional[list[int]], typer.Option("--k", "-k", help="Recall cutoff (repeatable; default 10).")] = None,
    as_json: JsonOption = False,
    plot: PlotOption = None,
) -> None:
    """Recall@k, MRR@10, nDCG@10 and MAP of each space, searching every query through the service."""
    from ..evaluation.formats import read_qrels, read_queries

    with cli_errors():
        evaluator = vecdex().evaluations.evaluator
        dataset = f"{queries.name}+{qrels.name}"
        results = evaluator.retrieval(collection, read_queries(queries), read_qrels(qrels), k or [10], space, dataset)
    unknown = next((r.params.get("unknown_judged_documents", 0) for r in results if r.params), 0)
    if unknown:
        typer.secho(
            f"{unknown} judged document id(s) of {qrels.name} are not in collection {collection!r}: recall is capped",
            err=True,
            fg="yellow",
        )
    _report("retrieval", dataset, results, as_json, plot)


@eval_app.command("similarity")
def eval_similarity(
    collection: str,
    pairs: Annotated[Optional[Path], typer.Option("--pairs", help="CSV/TSV 'id_a, id_b, score' (header optional).")] = None,
    matrix: Annotated[
        Optional[Path],
        typer.Option("--matrix", help="n x n scores; optional header of external ids, else collection order."),
    ] = None,
    space: SpacesOption = None,
    fit_weights: Annotated[
        bool,
        typer.Option("--fit-weights", help="Fit the combined similarity's weights to the gold scores (else equal)."),
    ] = False,
    as_json: JsonOption = False,
    plot: PlotOption = None,
) -> None:
    """Pearson and Spearman between gold document similarities and each space's cosine, and their combination."""
    from ..evaluation.formats import matrix_pairs, read_matrix, read_pairs

    if (pairs is None) == (matrix is None):
        fail("invalid_input", "give exactly one of --pairs or --matrix", "--pairs")
    with cli_errors():
        evaluator = vecdex().evaluations.evaluator
        if pairs is not None:
            dataset, gold = pairs.name, read_pairs(pairs)
        else:
            assert matrix is not None
            ids, values = read_matrix(matrix)
            if ids is None:
                ids = evaluator.collection_ids(collection)
                if len(ids) != len(values):
                    fail(
                        "invalid_file",
                        f"{matrix}: the matrix has {len(values)} rows but collection {collection!r} has {len(ids)} "
                        "documents (add a header line of external ids)",
                        "--matrix",
                    )
            dataset, gold = matrix.name, matrix_pairs(ids, values)
        results = evaluator.similarity(collection, gold, space, dataset, fit_weights=fit_weights)
    _report("similarity", dataset, results, as_json, plot)


def _gensim_test_file(name: str) -> Path:
    from gensim.test.utils import datapath

    return Path(datapath(name))


@eval_app.command("words")
def eval_words(
    collection: str,
    wordsim: Annotated[
        Optional[Path], typer.Option("--wordsim", help="word1 word2 score lines (default: gensim's wordsim353.tsv).")
    ] = None,
    analogies: Annotated[
        Optional[Path], typer.Option("--analogies", help="': section' + 'a b c d' lines (default: gensim's questions-words.txt).")
    ] = None,
    space: SpacesOption = None,
    as_json: JsonOption = False,
    plot: PlotOption = None,
) -> None:
    """Word similarity (Spearman, OOV rate) and analogy accuracy per section of each space with word vectors."""
    from ..evaluation.formats import read_analogies, read_word_pairs

    wordsim = wordsim or _gensim_test_file("wordsim353.tsv")
    analogies = analogies or _gensim_test_file("questions-words.txt")
    with cli_errors():
        evaluator = vecdex().evaluations.evaluator
        dataset = f"{wordsim.name}+{analogies.name}"
        results = evaluator.words(collection, read_word_pairs(wordsim), read_analogies(analogies), space, dataset)
    _report("words", dataset, results, as_json, plot)


@eval_app.command("list")
def eval_list(
    collection: str,
    space: Annotated[Optional[str], typer.Option("--space", "-s", help="Only this space's runs.")] = None,
    task: Annotated[Optional[str], typer.Option("--task", help="Only this task (retrieval, similarity, words).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Stored evaluation runs of a collection, oldest first."""
    with cli_errors():
        runs = vecdex().evaluations.list(collection=collection, space=space, task=task)
    if as_json:
        print_json([r.model_dump(mode="json") for r in runs])
        return
    if not runs:
        typer.echo(f"no stored evaluations for {collection}")
        return
    for r in runs:
        figures = "  ".join(f"{k}={_fmt(v)}" for k, v in _scalars(r.metrics).items())
        typer.echo(f"#{r.id}\t{r.created_at:%Y-%m-%d %H:%M:%S}\t{r.space}\t{r.task}\t{r.dataset}\t{figures}")
