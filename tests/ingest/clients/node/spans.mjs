// Sends a span tree and a log with the real @sentry/node to the DSN given as the first argument
// (the SDK's default trace lifecycle streams span v2 items; `static` as the second argument
// sends a classic transaction) and prints the trace id, as JSON, on stdout.
import * as Sentry from "@sentry/node";

const [dsn, lifecycle] = process.argv.slice(2);

Sentry.init({
  dsn,
  release: "node-client@1.0.0",
  environment: "test",
  tracesSampleRate: 1.0,
  enableLogs: true,
  ...(lifecycle ? { traceLifecycle: lifecycle } : {}),
});

let traceId;
Sentry.startSpan({ name: "node checkout", op: "task" }, (root) => {
  traceId = root.spanContext().traceId;
  Sentry.startSpan({ name: "load cart", op: "db" }, () => {
    Sentry.logger.warn("cart is large", { items: 42 });
  });
  Sentry.startSpan({ name: "charge card", op: "http.client" }, (span) => {
    span.setStatus({ code: 2, message: "internal_error" });
  });
});

await Sentry.flush(10000);
process.stdout.write(JSON.stringify({ traceId }));
