"""moto_server answering one request at a time.

moto's DynamoDB checks a ConditionExpression and then writes the item in two separate steps, without a lock,
and `moto_server` serves every request on its own thread. Two concurrent conditional PutItem calls can then
both pass a condition that real DynamoDB applies atomically, and a test that races 32 callers for one
idempotency key sees two winners (a failure of the mock, not of the store). This runs moto's own WSGI
application (as `moto_server` does) on werkzeug's single-threaded server, which serves one request after
another, so each conditional write is atomic again. Requests take turns; nothing else changes.

Usage: python moto_serialized.py HOST PORT
"""

import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    run_simple(
        host,
        port,
        DomainDispatcherApplication(create_backend_app),
        threaded=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
