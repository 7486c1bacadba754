"""Entry point of the ``subctl`` executable and of ``python -m subctl``.

A bare ``--version`` is answered before the CLI framework loads (the startup budget); everything
else goes to ``subctl.cli.main``, where the app and the error mapping live.
"""

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from subctl import __version__

        sys.stdout.write(f"subctl {__version__}\n")
        return
    from subctl.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
