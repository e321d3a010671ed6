"""``geonoise export``: write a model file as a self-describing ONNX model."""

from __future__ import annotations

import json

import click

from .options import echo_outputs, json_opt, output_opt, overwrite_opt, verbosity


@click.command(short_help="Export a model file to ONNX for fast CPU inference.")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, readable=True))
@output_opt
@click.option(
    "--opset",
    type=click.IntRange(13, 20),
    default=17,
    show_default=True,
    help="ONNX opset (13 to 20).",
)
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Run ONNX Runtime and PyTorch on random batches and require the same, finite "
    "probabilities (within 1e-4).",
)
@overwrite_opt
@json_opt
@click.pass_context
def export(
    ctx: click.Context,
    model: str,
    output: str,
    opset: int,
    check: bool,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Export MODEL (a checkpoint from train-teacher or train-student) to ONNX.

    The ONNX model takes raw pixels (N, bands, H, W) with any batch size, height
    and width (multiples of the network's 2**depth) and returns class
    probabilities; normalisation and softmax are inside. It carries the
    checkpoint's bands, classes, normalisation and tile size, so
    `geonoise detect --model MODEL.onnx` needs nothing else, and ONNX Runtime
    runs it on CPU, faster than PyTorch (see benchmarks/onnx.md).

    Prints the path written (a JSON summary with --json).

    \b
    Examples:
      geonoise export student.ckpt -o student.onnx
      geonoise export student.ckpt -o student.onnx --opset 18 --overwrite --json
    """
    from geonoise.models.export import export_onnx

    result = export_onnx(model, output, opset=opset, check=check, overwrite=overwrite)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    if verbosity(ctx) >= 0 and result.max_abs_diff is not None:
        click.echo(
            f"ONNX Runtime matches PyTorch: max |difference| {result.max_abs_diff:.1e} "
            f"on batches {result.sizes_checked} (N, H, W)",
            err=True,
        )
    echo_outputs(ctx, [(result.output, f"ONNX model ({result.size / 1e6:.1f} MB) for detect")])
    click.echo(result.output)
