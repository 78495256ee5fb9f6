"""OpenTelemetry instrumentation exported to the DSN in argv[1] the way Sentry documents it:
sentry-sdk's OTLPIntegration sends the spans to the DSN's OTLP traces endpoint, and the
OpenTelemetry SDK's own OTLP log exporter sends logs to the logs endpoint with the same
`X-Sentry-Auth` header. Prints {"traceId"} as JSON."""

import json
import logging
import sys

import sentry_sdk
from opentelemetry import trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode
from sentry_sdk.consts import EndpointType
from sentry_sdk.integrations.otlp import OTLPIntegration
from sentry_sdk.utils import Dsn

RESOURCE = Resource.create(
    {"service.name": "checkout", "service.version": "2.0.1", "deployment.environment.name": "prod"}
)
trace.set_tracer_provider(TracerProvider(resource=RESOURCE))
sentry_sdk.init(sys.argv[1], integrations=[OTLPIntegration()])

auth = Dsn(sys.argv[1]).to_auth("otel-python")
logs = LoggerProvider(resource=RESOURCE)
exporter = OTLPLogExporter(
    endpoint=auth.get_api_url(EndpointType.OTLP_TRACES).replace("/traces/", "/logs"),
    headers={"X-Sentry-Auth": auth.to_header()},
)
logs.add_log_record_processor(BatchLogRecordProcessor(exporter))
set_logger_provider(logs)
logger = logging.getLogger("checkout")
logger.addHandler(LoggingHandler(logger_provider=logs))
logger.setLevel(logging.INFO)

tracer = trace.get_tracer("checkout.handlers", "1.0")
with (
    tracer.start_as_current_span(
        "POST /checkout",
        kind=trace.SpanKind.SERVER,
        attributes={"http.request.method": "POST", "url.path": "/checkout"},
    ) as root,
    tracer.start_as_current_span(
        "SELECT orders", kind=trace.SpanKind.CLIENT, attributes={"db.system.name": "postgresql"}
    ) as query,
):
    query.set_status(Status(StatusCode.ERROR, "deadlock detected"))
    logger.warning("order %s retried", "A-17", extra={"order.attempt": 2})

trace.get_tracer_provider().force_flush()
logs.force_flush()
print(json.dumps({"traceId": format(root.get_span_context().trace_id, "032x")}))
