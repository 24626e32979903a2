"""Chinchilla replication: does a Bayesian fit of Hoffmann et al.'s own runs agree with Hoffmann, or with Besiroglu?

Runs :func:`bayescale.demo.run` (the same code as ``bayescale demo``); see README.md beside this file.

    python case_studies/chinchilla_replication/run.py [--smoke] [--out DIR] [--seed S]
"""

from bayescale.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
