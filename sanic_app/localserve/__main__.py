"""`python -m sanic_app.localserve`: run the embedded TF Serving-compatible backend."""
import sys

from .cli import main

sys.exit(main())
