"""GPU training speed of the student step: fp32 against mixed precision, in one run.

The step is what ``train-student`` runs per batch: the frozen teacher's
forward pass (hint), the student's forward and backward pass, symmetric cross
entropy plus the hint (distillation) loss, and an AdamW update. It needs only
torch and geonoise's model and loss modules, so it runs on a bare GPU machine
with the repository on ``PYTHONPATH``::

    PYTHONPATH=. python3 benchmarks/bench_gpu.py --out gpu.md

For each preset and batch size it times ``--steps`` steps after ``--warmup``
steps, in fp32 (TF32 matmuls off, then on), bf16 autocast and fp16 autocast
with a gradient scaler, all channels-last, and reports tiles per second and
the speed-up over fp32 on the same device in the same run. Random tiles:
speed does not depend on the pixels.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geonoise.models.nrn_rsseg import NRNRSSEG, model_config
from geonoise.training.losses import HintLoss, StudentLoss, SymmetricCrossEntropy

MODES = ("fp32", "tf32", "bf16-mixed", "16-mixed")


def step_timer(preset: str, batch: int, size: int, mode: str, device: str, steps: int, warmup: int):
    """Tiles per second of the student step in ``mode``; and the last loss (a sanity check)."""
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    torch.backends.cudnn.allow_tf32 = mode == "tf32"
    config = model_config(preset, num_classes=2)
    teacher = NRNRSSEG(config).to(device).eval().to(memory_format=torch.channels_last)
    student = NRNRSSEG(config).to(device).train().to(memory_format=torch.channels_last)
    for p in teacher.parameters():
        p.requires_grad_(False)
    hint = HintLoss(student.hint_channels, teacher.hint_channels)
    loss_fn = StudentLoss(SymmetricCrossEntropy(), hint, distill_weight=0.1).to(device)
    params = list(student.parameters()) + list(loss_fn.parameters())
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(mode)
    scaler = torch.amp.GradScaler(device, enabled=mode == "16-mixed")
    image = torch.randn(batch, 3, size, size, device=device).to(memory_format=torch.channels_last)
    mask = torch.randint(0, 2, (batch, size, size), device=device)

    def one_step() -> torch.Tensor:
        with torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None):
            with torch.no_grad():
                _, teacher_hint = teacher(image)
            logits, hint = student(image)
            loss = loss_fn(logits, mask, hint, teacher_hint)["loss"]
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return loss

    for _ in range(warmup):
        one_step()
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        loss = one_step()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return batch * steps / seconds, float(loss.detach())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "seed"])
    parser.add_argument("--batches", nargs="+", type=int, default=[16, 64])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "CPU"
    lines = [
        "# GPU training speed: the student step, fp32 vs mixed precision",
        "",
        f"Command: `PYTHONPATH=. python3 benchmarks/bench_gpu.py {' '.join(argv or sys.argv[1:])}`",
        "",
        f"- Device: {name}; torch {torch.__version__}; Python {platform.python_version()}",
        f"- Tiles {args.size}² RGB, 2 classes, channels-last; {args.steps} timed steps after "
        f"{args.warmup} warm-up steps; teacher and student of the same preset.",
        "",
        "| preset | batch | mode | tiles/s | speed-up over fp32 | last loss |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for preset in args.presets:
        for batch in args.batches:
            base = None
            for mode in MODES:
                if device == "cpu" and mode != "fp32":
                    continue
                rate, loss = step_timer(
                    preset, batch, args.size, mode, device, args.steps, args.warmup
                )
                base = base or rate
                lines.append(
                    f"| {preset} | {batch} | {mode} | {rate:.0f} | {rate / base:.2f}× | "
                    f"{loss:.3f} |"
                )
                print(lines[-1], flush=True)
            if device == "cuda":
                torch.cuda.empty_cache()
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
