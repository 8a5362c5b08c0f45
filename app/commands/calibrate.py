"""``synthrag calibrate``: fit the teacher profile on a train split and record it with the collection."""

from __future__ import annotations

import argparse
import json
import sys

from app.commands.synthetic_setup import open_components, prepare
from evaluation.calibration import GRID, NON_INFERIORITY, CalibrationResult, Trial, calibrate
from kernel.errors import NotFoundError
from kernel.models import SearchMode
from kernel.settings import Settings
from kernel.tenancy import CollectionName
from knowledge.profile import METADATA_KEY


def run_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    """Synthesize the sample (once), fit lambda and alpha by paired comparison, store and print the profile."""
    components = open_components(settings)
    try:
        targets = [CollectionName(c) for c in args.collection]
        for name in targets:  # before the long work, not after
            if not components.search.store.exists(name):
                raise NotFoundError(f"collection '{name}' does not exist")
        sample = prepare(args, components, list(SearchMode))
        result = calibrate(
            sample.collected,
            sample.dataset.qrels,
            teacher=sample.teacher,
            dataset=sample.description,
            depth=components.settings.synth.rerank_depth,
        )
        store = components.search.store
        profile_json = result.profile.model_dump(mode="json")
        for recorded in [sample.collection, *targets]:
            store.set_metadata(recorded, {**store.get_metadata(recorded), METADATA_KEY: profile_json})
    finally:
        components.close()
    if args.write_profile is not None:
        args.write_profile.write_text(json.dumps(profile_json, indent=2) + "\n", encoding="utf-8")
        print(f"profile written to {args.write_profile}", file=sys.stderr)
    if args.json:
        print(json.dumps(_as_json(result, sample.description)))
    else:
        print(_report(result, sample.description))
    return 0


def _as_json(result: CalibrationResult, description: str) -> dict[str, object]:
    return {
        "sample": description,
        "fit_queries": result.fit_queries,
        "holdout_queries": result.holdout_queries,
        "grid": [t.as_json() for t in result.grid],
        "chosen": result.chosen.as_json() if result.chosen else None,
        "holdout": result.holdout.as_json() if result.holdout else None,
        "by_kind": [t.as_json() for t in result.by_kind],
        "profile": result.profile.model_dump(mode="json"),
    }


def _line(trial: Trial) -> str:
    cells = [
        f"{mode} {c.delta:+.4f} [{c.delta_ci[0]:+.4f}, {c.delta_ci[1]:+.4f}] {c.wins}/{c.ties}/{c.losses}"
        for mode, c in trial.by_mode.items()
    ]
    mark = "" if trial.admissible else "  (not non-inferior)"
    return (
        f"  {trial.method:<18} lambda {trial.rerank_lambda:<4g} alpha {trial.expansion_alpha:<4g} "
        f"mean {trial.mean_delta:+.4f}: " + "; ".join(cells) + mark
    )


def _report(result: CalibrationResult, description: str) -> str:
    lines = [
        description,
        f"fit on {result.fit_queries} queries, checked on {result.holdout_queries} held out; "
        f"delta nDCG@10 vs raw [95% paired bootstrap], wins/ties/losses; non-inferior: lower end >= "
        f"{NON_INFERIORITY}; grid {', '.join(f'{g:g}' for g in GRID)}",
        "grid (fit half):",
    ]
    lines += [_line(t) for t in result.grid]
    lines.append("each item kind alone (fit half):")
    lines += [_line(t) for t in result.by_kind]
    lines.append("chosen (fit half):" if result.chosen else "chosen: none (no strength helps in every mode)")
    if result.chosen is not None:
        lines.append(_line(result.chosen))
    if result.holdout is not None:
        lines.append("held-out half:")
        lines.append(_line(result.holdout))
    p = result.profile
    lines.append(
        f"profile: lambda {p.rerank_lambda:g}, alpha {p.expansion_alpha:g}, item kinds "
        f"{[k.value for k in p.item_kinds] or 'none (only document notes are generated)'}, "
        f"on by default in {[m.value for m in p.search_modes] or 'no mode'}"
    )
    return "\n".join(lines)
