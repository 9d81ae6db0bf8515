"""``python -m hebm_lib`` and the ``hebm`` command. The first thing it does, before PyTorch loads (a second or
more on a loaded machine), is to take SIGTERM and Ctrl-C: a signal that arrives before training installs its
own handler ends the command with one line, not a traceback from inside an import. Every file the library
writes is written atomically, so nothing half-written is left; the trainer keeps its own finished
iterations (hebm_lib.training.trainer)."""
import signal
import sys

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(BaseException):
    """SIGTERM or SIGINT outside the training loop (a BaseException, as KeyboardInterrupt is, so that no
    ``except Exception`` on the way swallows it)."""


def _interrupt(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def main(argv=None) -> int:
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    try:
        from .cli import main as cli_main
        return cli_main(argv)
    except Interrupted as exc:
        for sig in STOP_SIGNALS:   # a second signal while the line is written: default behaviour
            signal.signal(sig, signal.SIG_DFL)
        print(f"hebm: stopped: {exc} (no training iteration was under way; files are written whole or not at "
              f"all); run the same command again to go on", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
