import sys

from rag.evals.datasets import main

sys.exit(main())
