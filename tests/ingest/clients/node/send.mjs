// Sends events, a release health session and a cron check-in with the real @sentry/node to
// the DSN given as the first argument and prints the event ids it sent, as JSON, on stdout.
import * as Sentry from "@sentry/node";

const dsn = process.argv[2];
const sent = [];

Sentry.init({
  dsn,
  release: "node-client@1.0.0",
  environment: "test",
  beforeSend(event) {
    sent.push(event.event_id);
    return event;
  },
});

function parseOrder(raw) {
  return JSON.parse(raw).items.map((item) => item.sku);
}

try {
  parseOrder("{not json");
} catch (error) {
  Sentry.captureException(error);
}

const cause = new Error("connection refused");
const wrapped = new Error("could not load the cart", { cause });
Sentry.captureException(wrapped);

Sentry.captureMessage("node message with padding " + "x".repeat(40 * 1024), "warning");

Sentry.startSession();
Sentry.endSession();

Sentry.captureCheckIn(
  { monitorSlug: "node-cleanup", status: "ok", duration: 1.5 },
  {
    schedule: { type: "crontab", value: "*/10 * * * *" },
    checkinMargin: 5,
    maxRuntime: 10,
    timezone: "UTC",
  },
);

await Sentry.flush(10000);
process.stdout.write(JSON.stringify(sent));
