// Sends, with the real @sentry/node, an error and the user's feedback about it
// (Sentry.captureFeedback); prints {"event_id", "feedback_id"} as JSON.
import * as Sentry from "@sentry/node";

Sentry.init({ dsn: process.argv[2], release: "node-client@1.0.0", environment: "test" });

const eventId = Sentry.captureException(new Error("checkout crashed"));
const feedbackId = Sentry.captureFeedback({
  message: "The pay button did nothing.",
  name: "Grace",
  email: "grace@example.com",
  url: "https://shop.example.com/cart",
  associatedEventId: eventId,
});

await Sentry.flush(10000);
process.stdout.write(JSON.stringify({ event_id: eventId, feedback_id: feedbackId }));
