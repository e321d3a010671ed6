"""Commands that are planned but not built yet: they say so and exit non-zero."""

from __future__ import annotations

import click

#: Command name → (one-line purpose, issue that builds it).
PLANNED = {
    "evaluate": ("Score a noise map against the truth of the noise.", 5),
}

#: Exit status of a command that is not built yet (distinct from 1 and 2).
NOT_BUILT_EXIT = 3


def _planned_command(name: str, purpose: str, issue: int) -> click.Command:
    @click.pass_context
    def callback(ctx: click.Context, args: tuple[str, ...]) -> None:
        click.echo(
            f"Error: `geonoise {name}` is not built yet (planned in issue #{issue}); "
            "nothing was done.",
            err=True,
        )
        ctx.exit(NOT_BUILT_EXIT)

    return click.Command(
        name,
        callback=callback,
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
        help=f"{purpose}\n\nNOT BUILT YET (issue #{issue}): exits with status {NOT_BUILT_EXIT}.",
        short_help=f"[not built yet] {purpose}",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


COMMANDS = [_planned_command(name, *spec) for name, spec in PLANNED.items()]
