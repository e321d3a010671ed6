"""``geonoise train-teacher`` and ``geonoise train-student``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from geonoise.training.budget import MAX_STEPS, MIN_STEPS
from geonoise.training.config import TrainConfig

from .options import (
    FiniteFloatRange,
    echo_outputs,
    json_opt,
    output_opt,
    overwrite_opt,
    verbosity,
)

if TYPE_CHECKING:
    from geonoise.training.run import TrainResult


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Read a YAML config into the command's defaults: flags still override it."""
    if value is None:
        return None
    from geonoise.errors import InvalidInputError
    from geonoise.training.config import load_config_file

    try:
        content = load_config_file(value)
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc)) from exc
    ctx.default_map = {**(ctx.default_map or {}), **content}
    return value


def _print_config(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--print-config``: the reference config.yaml on stdout, then exit (as ``--version``)."""
    if not value or ctx.resilient_parsing:
        return
    from geonoise.training.config import reference_config

    click.echo(reference_config(), nl=False)
    ctx.exit()


def _values(ctx: click.Context, param: click.Parameter, value: Any) -> list[int] | None:
    names = _names(ctx, param, value)
    if names is None:
        return None
    try:
        return [int(name) for name in names]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of class ids") from None


def _names(ctx: click.Context, param: click.Parameter, value: Any) -> list[str] | None:
    if value is None or isinstance(value, list):
        return value
    return [name.strip() for name in str(value).split(",") if name.strip()]


def training_options(command: Callable) -> Callable:
    """The options both training commands share; defaults are TrainConfig's."""
    d = TrainConfig()
    options = [
        click.option(
            "--config",
            type=click.Path(exists=True, dir_okay=False),
            is_eager=True,
            expose_value=False,
            callback=_load_config,
            help="YAML file of training parameters (as --print-config prints); flags override.",
        ),
        click.option(
            "--print-config",
            is_flag=True,
            is_eager=True,
            expose_value=False,
            callback=_print_config,
            help="Print the reference config.yaml (every parameter, its default and what it "
            "does) and exit.",
        ),
        click.option(
            "--labels-dir",
            type=click.Path(exists=True, file_okay=False),
            help="Treat TILES as a folder of image tiles and take labels from this "
            "folder, matched by file name (PNG or GeoTIFF).",
        ),
        click.option(
            "--binary-255",
            is_flag=True,
            default=d.binary_255,
            help="With --labels-dir: read 255 in the masks as class 1 (0/255 building "
            "masks), not as ignore.",
        ),
        click.option(
            "--preset",
            type=click.Choice(["tiny", "small", "seed"]),
            default=d.preset,
            show_default=True,
            help="Model size: tiny (0.12 M parameters), small (1.9 M), seed (7.8 M, the "
            "paper's). A step of 8 windows of 128 px on one CPU thread costs about 0.3, 0.7 and "
            "2.1 s; at the same training time all three learned equally on three real scenes "
            "(benchmarks/presets.md).",
        ),
        click.option("--base-width", type=click.IntRange(2), help="Override the preset's width."),
        click.option("--depth", type=click.IntRange(1, 6), help="Override the preset's depth."),
        click.option(
            "--dropout",
            type=FiniteFloatRange(0, 1, max_open=True),
            default=d.dropout,
            show_default=True,
            help="Channel dropout between the bridge and the decoder, in training only: the "
            "noise Noisy Student gives its student.",
        ),
        click.option(
            "--class-names",
            callback=_names,
            help="Comma-separated class names, one per class value in order "
            "(default: background,building for 0/1 labels, class_<value> otherwise).",
        ),
        click.option(
            "--class-values",
            callback=_values,
            metavar="V,V,…",
            help="The label values the model learns (default: those present in the labels), "
            "e.g. 1,2,3,4,5,6,7 when a class is missing from the training tiles.",
        ),
        click.option(
            "--steps",
            type=click.IntRange(1),
            default=d.steps,
            help="Optimizer steps of the run [default: 4 per training window of the tile "
            f"size, within {MIN_STEPS}..{MAX_STEPS}].",
        ),
        click.option(
            "--epochs",
            type=click.IntRange(1),
            default=d.epochs,
            help="Instead of --steps: passes over the training tiles (the older unit).",
        ),
        click.option(
            "--batch-size", type=click.IntRange(1), default=d.batch_size, show_default=True
        ),
        click.option(
            "--lr",
            type=FiniteFloatRange(0, min_open=True),
            default=d.lr,
            show_default=True,
            help="AdamW's peak learning rate: linear warm-up, then cosine to 0 over the steps.",
        ),
        click.option(
            "--warmup",
            type=FiniteFloatRange(0, 1),
            default=d.warmup,
            show_default=True,
            help="Share of the steps spent warming the learning rate up.",
        ),
        click.option(
            "--weight-decay", type=FiniteFloatRange(0), default=d.weight_decay, show_default=True
        ),
        click.option(
            "--sce-alpha",
            type=FiniteFloatRange(0),
            default=d.sce_alpha,
            show_default=True,
            help="Weight of CE in symmetric cross entropy.",
        ),
        click.option(
            "--sce-beta",
            type=FiniteFloatRange(0),
            default=d.sce_beta,
            show_default=True,
            help="Weight of reverse CE in symmetric cross entropy.",
        ),
        click.option(
            "--augment/--no-augment",
            default=d.augment,
            show_default=True,
            help="D4, mild affine and photometric augmentation (kornia).",
        ),
        click.option(
            "--sampler",
            type=click.Choice(["windows", "tiles"]),
            default=d.sampler,
            show_default=True,
            help="Train on windows drawn at random places of the training tiles' scenes "
            "(many distinct samples from a small scene), or on the tiles themselves.",
        ),
        click.option(
            "--window",
            type=click.IntRange(16),
            default=d.window,
            metavar="PIXELS",
            help="Edge of the random windows [default: the tile size].",
        ),
        click.option(
            "--rare-share",
            type=FiniteFloatRange(0, 1),
            default=d.rare_share,
            show_default=True,
            help="Share of the windows placed around a pixel of a class other than the "
            "most frequent one (for a rare foreground).",
        ),
        click.option(
            "--val-fraction",
            type=FiniteFloatRange(0, 1, min_open=True, max_open=True),
            default=d.val_fraction,
            show_default=True,
            help="Share of tiles in spatially blocked validation.",
        ),
        click.option(
            "--block-size",
            type=FiniteFloatRange(0, min_open=True),
            help="Edge of the validation (and fold) blocks in map units (default: 4 tiles).",
        ),
        click.option(
            "--folds",
            type=click.IntRange(1),
            default=d.folds,
            show_default=True,
            help="Cross-fitting: train one model per spatial fold of the tiles, each blind to "
            "its fold's labels; writes <name>.fold1…N and <name>.folds.txt for detect -m @.",
        ),
        click.option(
            "--patience",
            type=click.IntRange(1),
            default=d.patience,
            help="Early stopping: validations without a better val loss [default: off, "
            "the learning rate decays to 0 over the budget].",
        ),
        click.option(
            "--cache/--no-cache",
            default=d.cache,
            show_default=True,
            help="Hold the tiles in memory (fast; for data sets that fit).",
        ),
        click.option(
            "--num-workers",
            type=click.IntRange(0),
            default=d.num_workers,
            show_default=True,
            help="DataLoader worker processes.",
        ),
        click.option(
            "--seed",
            type=int,
            default=d.seed,
            show_default=True,
            help="Random seed; same seed, same run.",
        ),
        click.option(
            "--precision",
            default=d.precision,
            show_default=True,
            type=click.Choice(["32-true", "16-mixed", "bf16-mixed", "64-true"]),
            help="Lightning precision (16-mixed on GPUs).",
        ),
        click.option(
            "--accelerator",
            default=d.accelerator,
            show_default=True,
            type=click.Choice(["auto", "cpu", "gpu", "cuda", "mps"]),
        ),
        click.option(
            "--devices",
            default=d.devices,
            show_default=True,
            help="Number of devices, a list like 0,1, or auto.",
        ),
        click.option(
            "--strategy",
            default=d.strategy,
            show_default=True,
            help="Lightning strategy: auto, ddp, ddp_spawn, …",
        ),
        click.option(
            "--logger",
            "loggers",
            multiple=True,
            default=d.loggers,
            show_default=True,
            type=click.Choice(["csv", "tensorboard", "wandb"]),
            help="Metrics loggers (repeatable); CSV is always written.",
        ),
        click.option("--resume", is_flag=True, help="Continue the run in OUTPUT's _run folder."),
        output_opt,
        overwrite_opt,
        json_opt,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run(
    ctx: click.Context,
    role: str,
    tiles: str,
    output: str,
    teacher: str | None,
    params: dict[str, Any],
) -> None:
    from geonoise.training.run import train

    labels_dir = params.pop("labels_dir")
    resume, overwrite, as_json = (params.pop(k) for k in ("resume", "overwrite", "as_json"))
    params["loggers"] = list(params["loggers"])
    config = TrainConfig.from_mapping(params, "options")
    quiet = verbosity(ctx) < 0
    result = train(
        role,
        tiles,
        output,
        config,
        labels_dir=labels_dir,
        teacher=teacher,
        resume=resume,
        overwrite=overwrite,
        progress=not quiet,
    )
    if result is None:  # a non-zero DDP rank: rank 0 reports
        return
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    if not quiet:
        _echo_summary(ctx, result)
    click.echo(result.output)


def _echo_summary(ctx: click.Context, result: TrainResult) -> None:
    """Per model: its steps, split and best validation scores; then what was written."""
    outputs: list[tuple[str | None, str]] = []
    lineages = result.rounds or [{}] * len(result.models)
    for model, lineage in zip(result.models, lineages, strict=True):
        click.echo(f"{model.model_file}: {model.steps_run} steps; {model.split}", err=True)
        if "labels_changed" in lineage:
            click.echo(
                f"round {lineage['round']}: {lineage['labels_changed']:.1%} of the labels "
                f"rewritten by {lineage['parent']}",
                err=True,
            )
            outputs.append((lineage["tiles"], "the tiles this round trained on (labels rewritten)"))
        click.echo(f"best validation: {_scores(model.metrics)}", err=True)
        outputs += [
            (model.model_file, "model file for detect and export"),
            (model.curves, "learning curves"),
            (model.run_dir, "run: checkpoints for --resume, metrics.csv"),
        ]
    outputs.append((result.listing, "the fold models, for detect -m @LIST"))
    outputs.append((result.final, "the last round's model, for detect and export"))
    echo_outputs(ctx, outputs)


def _scores(metrics: dict[str, float]) -> str:
    """``loss 0.412; IoU 0.731 (background 0.958, building 0.504); F1 …`` of val_* metrics."""
    parts = [f"loss {metrics['val_loss']:.3f}"] if "val_loss" in metrics else []
    for metric, name in (("iou", "IoU"), ("f1", "F1")):
        per_class = ", ".join(
            f"{key.removeprefix(f'val_{metric}_')} {value:.3f}"
            for key, value in metrics.items()
            if key.startswith(f"val_{metric}_")
        )
        if f"val_m{metric}" in metrics:
            parts.append(f"{name} {metrics[f'val_m{metric}']:.3f} ({per_class})")
    return "; ".join(parts) or "none (no validation ran)"


@click.command("train-teacher", short_help="Train the NRN-RSSEG teacher on clean labels.")
@click.argument("tiles", type=click.Path(exists=True, file_okay=False))
@training_options
@click.pass_context
def train_teacher(ctx: click.Context, tiles: str, output: str, **params: Any) -> None:
    """Train the teacher on the clean tiles in TILES (a `geonoise tile` directory).

    Writes OUTPUT (the model file: weights, bands, classes, normalisation, tile
    size), OUTPUT's learning curves as <name>.curves.png, and a <name>_run/
    folder with Lightning checkpoints (best and last, for --resume) and
    metrics.csv.

    \b
    Examples:
      geonoise train-teacher tiles_source/ -o teacher.ckpt
      geonoise train-teacher --print-config > config.yaml
      geonoise train-teacher tiles/ -o teacher.ckpt --config config.yaml --epochs 80
      geonoise train-teacher patches/ --labels-dir masks/ -o teacher.ckpt
      geonoise train-teacher tiles/ -o t.ckpt --accelerator cpu --devices 2 --strategy ddp
    """
    _run(ctx, "teacher", tiles, output, None, params)


@click.command("train-student", short_help="Train the student on noisy labels with a teacher.")
@click.argument("tiles", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--teacher",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The teacher's model file (from train-teacher).",
)
@click.option(
    "--distill-weight",
    type=FiniteFloatRange(0, 1),
    default=TrainConfig.distill_weight,
    show_default=True,
    help="λ in λ·distillation + (1−λ)·SCE.",
)
@click.option(
    "--rounds",
    type=click.IntRange(1),
    default=TrainConfig.rounds,
    show_default=True,
    help="Noisy Student rounds: each round's student is the next round's teacher; writes "
    "<name>.round1…N and <name> (the last round).",
)
@click.option(
    "--round-threshold",
    type=FiniteFloatRange(0, 1, min_open=True),
    default=TrainConfig.round_threshold,
    show_default=True,
    help="From round 2: a label the previous round scores at least this noisy "
    "(1 − p(label)) is confidently wrong.",
)
@click.option(
    "--round-mode",
    type=click.Choice(["ignore", "relabel"]),
    default=TrainConfig.round_mode,
    show_default=True,
    help="What a round does with a confidently wrong label: not train on it, or train on "
    "the previous round's prediction instead.",
)
@training_options
@click.pass_context
def train_student(ctx: click.Context, tiles: str, output: str, teacher: str, **params: Any) -> None:
    """Train the student on the noisy tiles in TILES, guided by --teacher.

    The student's hint (bridge features) is pulled towards the frozen
    teacher's by an MSE loss, so it learns what buildings look like rather than
    memorising the noise. Outputs as for train-teacher.

    \b
    Examples:
      geonoise train-student tiles_target/ --teacher teacher.ckpt -o student.ckpt
      geonoise train-student tiles/ --teacher t.ckpt -o s.ckpt --distill-weight 0.7
      geonoise train-student tiles/ --teacher t.ckpt -o s.ckpt --folds 3
      geonoise detect scene.tif -l labels.tif -m @s.folds.txt -o noise.tif
      geonoise train-student tiles/ --teacher t.ckpt -o s.ckpt --rounds 3

    With --folds K, the tiles are split into K spatially blocked folds and one
    student is trained per fold without that fold's tiles (s.fold1.ckpt …),
    each carrying the region it held out; detect -m @s.folds.txt then scores
    every pixel with the student that never saw its label (out-of-sample
    scores, which confident learning assumes).

    With --rounds N (Noisy Student), round 1 is the student above; round k
    is taught by round k−1's student and trains on the tiles' labels where
    round k−1 does not find them confidently wrong (--round-threshold); those
    are ignored or relabelled with its prediction (--round-mode). Each round
    writes s.round<k>.ckpt (its meta names its round and parent) and, from
    round 2, the tiles it trained on, s.round<k>.tiles/; s.ckpt is a copy of
    the last round. Not with --folds, --resume or --labels-dir.
    """
    _run(ctx, "student", tiles, output, teacher, params)
