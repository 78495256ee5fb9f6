"""Sends events with the legacy raven 6.10 client (store endpoint, zlib with
`Content-Encoding: deflate`, `sentry_version=6`) to the DSN in argv[1]; prints the ids."""

import json
import sys

from raven import Client
from raven.transport.http import HTTPTransport

client = Client(sys.argv[1], transport=HTTPTransport, raise_send_errors=True)
sent = [client.captureMessage("raven says %s", params=("hello",))]
try:
    {}["missing"]
except KeyError:
    sent.append(client.captureException())
print(json.dumps(sent))
