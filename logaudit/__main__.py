"""``python -m logaudit`` and the ``logaudit`` command.

Signal handling is installed first and the heavy imports (pandas, pyarrow, the CLI) happen
inside ``main``, so that Ctrl-C, SIGTERM or SIGHUP while they load is one line and exit
128 + the signal's number (130 for Ctrl-C), as at any later moment, not a traceback.
"""

import os
import sys

from logaudit import procs


def main() -> None:
    procs.install()
    try:
        from logaudit.cli import main as cli_main
    except KeyboardInterrupt as e:
        code = getattr(e, "code", 130)
        name = e.args[0] if isinstance(e, procs.Stopped) else ""
        try:
            said = f"stopped by {name}" if name else "interrupted"
            sys.stderr.write(f"logaudit: {said}\n")
            sys.stderr.flush()
        finally:
            os._exit(code)
    cli_main()


if __name__ == "__main__":
    main()
