"""`ketaflow sessions ...`: the treatment sessions' scheduled jobs."""

from __future__ import annotations

import click

from .commands_home import check_home


@click.group("sessions")
def sessions() -> None:
    """Treatment sessions: at-home check-ins."""


sessions.add_command(check_home)
