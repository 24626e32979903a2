"""``python -m bayescale``: the ``bayescale`` command, for an environment whose scripts folder is not on PATH."""

from bayescale.cli import main

main()
