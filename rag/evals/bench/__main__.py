import sys

from rag.evals.bench.main import cli

sys.exit(cli())
