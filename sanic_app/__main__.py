"""``python -m sanic_app``: the gateway's command line (see sanic_app.main)."""
from sanic_app.main import main

main()
