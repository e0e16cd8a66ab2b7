"""``vecdex recommend`` and ``vecdex item2vec {evaluate,tune}``: item2vec over an items collection."""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer

from .common import FilterOption, cli_errors, fail, key_values, print_json, print_rows, vecdex

item2vec_app = typer.Typer(help="Evaluate and tune item2vec on a collection's interactions.", no_args_is_help=True)

SpaceOption = Annotated[
    Optional[str], typer.Option("--space", help="Train with this item2vec space's spec (else item2vec defaults).")
]
ParamOption = Annotated[
    Optional[list[str]], typer.Option("--param", "-p", help="Spec parameter key=value over the base spec (repeatable).")
]


def _short(metadata: dict[str, Any], width: int = 60) -> str:
    text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), default=str) if metadata else "-"
    return text if len(text) <= width else text[: width - 3] + "..."


def recommend(
    collection: str,
    positive: Annotated[
        Optional[list[str]], typer.Option("--positive", help="An item to recommend from (repeatable).")
    ] = None,
    negative: Annotated[
        Optional[list[str]], typer.Option("--negative", help="An item to steer away from (repeatable).")
    ] = None,
    user: Annotated[
        Optional[str], typer.Option("--user", help="Recommend from this user's recent history instead.")
    ] = None,
    k: Annotated[int, typer.Option("--k", "-k")] = 10,
    strategy: Annotated[str, typer.Option(help="average or best_score")] = "average",
    filter_: FilterOption = None,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="An item never to return (repeatable).")] = None,
    space: Annotated[Optional[str], typer.Option(help="An item2vec space (default: the collection's default).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the response as JSON.")] = False,
) -> None:
    """Recommend items of an items collection from example items (--positive/--negative) or a --user's history."""
    from ..recommend_schemas import RecommendRequest, UserRecommendRequest

    vx = vecdex()
    where = key_values(filter_, "--filter")
    if strategy not in ("average", "best_score"):
        fail("invalid_input", f"unknown strategy {strategy!r}; use average or best_score", "--strategy")
    if user is not None and (positive or negative or exclude):
        fail(
            "invalid_input",
            "--user recommends from the user's history (seen items left out); "
            "--positive, --negative and --exclude go without it",
            "--user",
        )
    if user is None and not positive:
        fail("invalid_input", "give at least one --positive ITEM, or --user USER", "--positive")
    with cli_errors():
        if user is not None:
            body = UserRecommendRequest(k=k, strategy=strategy, filter=where, space=space, snippet_chars=160)  # type: ignore[arg-type]
            response = vx.recommend.for_user(collection=collection, user=user, body=body)
        else:
            request = RecommendRequest(
                positive=list(positive or []),  # type: ignore[arg-type]
                negative=list(negative or []),
                exclude=list(exclude or []),
                k=k,
                strategy=strategy,  # type: ignore[arg-type]
                filter=where,
                space=space,
                snippet_chars=160,
            )
            response = vx.recommend.from_examples(collection=collection, body=request)
    if as_json:
        print_json(response.model_dump(mode="json"))
        return
    typer.echo(f"space {response.space} ({response.strategy}):")
    if response.cold_examples:
        typer.echo(f"  served from text space {response.cold_start_space}: {', '.join(response.cold_examples)}")
    if response.skipped:
        typer.echo(f"  skipped (no interactions in this space): {', '.join(response.skipped)}")
    if not response.hits:
        typer.echo("  no recommendation (every candidate filtered out or excluded)")
    width = max((len(h.external_id) for h in response.hits), default=0)
    ranked = list(enumerate(response.hits, 1))
    print_rows(
        "",
        ["#", "score", "item", "source", "metadata"],
        [[str(r), f"{h.score:.4f}", h.external_id, h.source, _short(h.metadata)] for r, h in ranked],
        [f"{r:>3}. {h.score:.4f}  {h.external_id:<{width}}  {h.source:<8}  {_short(h.metadata)}" for r, h in ranked],
        right=("#", "score"),
    )


def _print_metrics(methods: dict[str, Any], k: int) -> None:
    numbers = [f"HR@{k}", f"MRR@{k}", f"nDCG@{k}", "coverage", "cases"]
    rows = [[name, f"{m.hit_rate:.3f}", f"{m.mrr:.3f}", f"{m.ndcg:.3f}", f"{m.coverage:.3f}", str(m.cases)]
            for name, m in methods.items()]
    plain = [f"{'method':<15}{'HR@' + str(k):>9}{'MRR@' + str(k):>9}{'nDCG@' + str(k):>9}{'coverage':>10}{'cases':>7}"]
    plain += [f"{name:<15}{m.hit_rate:>9.3f}{m.mrr:>9.3f}{m.ndcg:>9.3f}{m.coverage:>10.3f}{m.cases:>7}"
              for name, m in methods.items()]
    print_rows("", ["method", *numbers], rows, plain, right=numbers)


@item2vec_app.command("evaluate")
def item2vec_evaluate(
    collection: str,
    space: SpaceOption = None,
    param: ParamOption = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1)] = 10,
    test_fraction: Annotated[
        float, typer.Option(help="Share of the latest interactions held out (the time cutoff is this quantile).")
    ] = 0.1,
    protocol: Annotated[
        str,
        typer.Option(
            help="time: one global time cutoff; last: every user's latest event held out (per-user "
            "leave-last-out, also against the adjacent-pairs baseline)."
        ),
    ] = "time",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Next-item HR@k, MRR@k, nDCG@k and coverage of item2vec vs popularity and co-occurrence.

    Splits the collection's interactions by time (``--protocol time``: one cutoff;
    ``last``: each user's latest event), trains a fresh item2vec model on the rest
    (never a space's own model: it saw the test events) and asks each method for
    every test user's held-out item from their history.
    """
    from ..evaluation.item2vec import iso
    from ..runtime.progress import TqdmProgress

    vx = vecdex()
    overrides = key_values(param, "--param")
    if protocol not in ("time", "last"):
        fail("invalid_input", f"unknown protocol {protocol!r}; use time or last", "--protocol")
    with cli_errors():
        bar = TqdmProgress("item2vec")
        try:
            report = vx.recommend.evaluate(
                collection=collection, space=space, overrides=overrides, k=k, test_fraction=test_fraction,
                progress=bar, protocol="last" if protocol == "last" else "time",
            )
        finally:
            bar.close()
    if as_json:
        print_json(report.as_dict())
        return
    base = f"space {report.space}" if report.space else "item2vec defaults"
    changes = f" with {', '.join(f'{k_}={v}' for k_, v in overrides.items())}" if overrides else ""
    typer.echo(f"{collection}: next-item prediction at k={k} ({base}{changes})")
    held_out = (
        f"before {iso(report.cutoff)}" if report.protocol == "time" else "(each user's latest event held out)"
    )
    typer.echo(
        f"interactions {report.interactions:,}, trained on {report.train_interactions:,} {held_out}; "
        f"{report.cases:,} test cases; item2vec trained in {report.train_seconds:.2f} s"
    )
    _print_metrics(report.methods, k)
    if report.few_cases:
        typer.secho(
            f"only {report.cases} test cases: one hit moves HR@{k} by {1 / report.cases:.1%}; read the figures as rough",
            err=True,
            fg="yellow",
        )


@item2vec_app.command("tune")
def item2vec_tune(
    collection: str,
    space: SpaceOption = None,
    param: ParamOption = None,
    budget: Annotated[float, typer.Option(help="Seconds to search for (a running trial finishes).", min=0)] = 60.0,
    k: Annotated[int, typer.Option("--k", "-k", min=1)] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the random draws the search falls back on.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Local search of item2vec's training parameters from the base spec within a time budget, scored by nDCG@k.

    One-parameter moves to neighbouring values, accepted past a noise margin measured by retraining the base
    with a second seed, combined, and a change kept only if a second seed confirms it. Trials train on each
    user's history without its last two events and are scored on the second-to-last; the latest is never
    looked at, so `vecdex item2vec evaluate` can judge the chosen spec honestly afterwards.
    """
    import shlex

    from ..evaluation.item2vec import create_command, param_args
    from ..runtime.progress import TqdmProgress

    vx = vecdex()
    overrides = key_values(param, "--param")
    with cli_errors():
        bar = TqdmProgress(collection)  # phase "tune", in seconds of the budget; trial and best nDCG as postfix
        try:
            report = vx.recommend.tune(
                collection=collection, space=space, overrides=overrides, budget_seconds=budget, k=k, seed=seed,
                progress=bar,
            )
        finally:
            bar.close()
    if as_json:
        print_json(report.as_dict())
        return
    trials = sorted(report.trials, key=lambda t: (-t["ndcg"], -t["hit_rate"], t["trial"]))
    typer.echo(
        f"{collection}: {len(report.trials)} trials in {report.seconds:.1f} s "
        f"(validation split inside the training part; top {min(10, len(trials))} by nDCG@{k})"
    )
    shown = [(t, ", ".join(f"{k_}={v}" for k_, v in t["changes"].items()) or "(base spec)") for t in trials[:10]]
    numbers = ["#", f"nDCG@{k}", f"HR@{k}", f"MRR@{k}", "cover", "s"]
    print_rows(
        "",
        [*numbers, "changes"],
        [[str(t["trial"]), f"{t['ndcg']:.3f}", f"{t['hit_rate']:.3f}", f"{t['mrr']:.3f}", f"{t['coverage']:.3f}",
          f"{t['seconds']:.1f}", changes] for t, changes in shown],
        [f"{'#':>4}{'nDCG@' + str(k):>9}{'HR@' + str(k):>8}{'MRR@' + str(k):>9}{'cover':>7}{'s':>7}  changes"]
        + [f"{t['trial']:>4}{t['ndcg']:>9.3f}{t['hit_rate']:>8.3f}{t['mrr']:>9.3f}{t['coverage']:>7.3f}"
           f"{t['seconds']:>7.1f}  {changes}" for t, changes in shown],
        right=numbers,
    )
    typer.echo("best spec:")
    print_json(report.best_spec.model_dump(mode="json"))
    if not report.best_changes():
        typer.echo("no trial beat the base spec on the validation split by the noise margin, confirmed with a "
                   "second seed: the base spec stays")
    typer.echo(
        f"check it on the held-out test split:  vecdex item2vec evaluate {shlex.quote(collection)} "
        f"{param_args(report.best_spec)}".rstrip()
    )
    typer.echo(f"build a space with it:  {create_command(collection, report.best_spec, 'NAME')}")


def register(app: typer.Typer) -> None:
    app.command()(recommend)
