"""``python -m sanic_app``: the gateway's command line (see sanic_app.main)."""
from sanic_app.core.grpc_poller import use_classic_client_poller

use_classic_client_poller()  # before anything imports grpc, which reads it then

from sanic_app.main import main  # noqa: E402

main()
