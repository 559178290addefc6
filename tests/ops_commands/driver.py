"""``manage.py crm_bridge_ops`` in a process of its own, for tests/ops_commands/test_process.py.

    python tests/ops_commands/driver.py [--pause] VERB ARGS…

With ``--pause``, after each committed batch (its progress line already written) it prints ``paused N`` on
stdout and waits for a line on stdin: the test sends its signal at that known point and then lets it go on,
without sleeping. Exits with the command's code (128 + the signal after an interruption).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.management.base import CommandError

    pause = argv[:1] == ["--pause"]
    args = argv[1:] if pause else argv

    def wait_here(run) -> None:
        print(f"paused {run.done}", flush=True)
        sys.stdin.readline()

    try:
        call_command("crm_bridge_ops", *args, after_batch=wait_here if pause else None)
    except CommandError as err:
        sys.stderr.write(f"CommandError: {err}\n")
        return err.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
