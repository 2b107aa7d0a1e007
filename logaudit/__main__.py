"""``python -m logaudit`` and the ``logaudit`` command.

Signal handling is installed first and the heavy imports (pandas, pyarrow, the CLI) happen
inside ``main``, so that Ctrl-C, SIGTERM or SIGHUP while they load is one line and exit
128 + the signal's number (130 for Ctrl-C), as at any later moment, not a traceback.
"""

import os
import sys

# logaudit does no linear algebra, but numpy's OpenBLAS starts a thread per core when numpy
# loads, which spins (busy-waits) for a while: CPU taken from the start-up imports and the
# first blocks on a 2-core host. Set before anything imports numpy; a user's value wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from logaudit import procs  # noqa: E402 - after the environment above


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
