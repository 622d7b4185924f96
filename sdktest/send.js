// Sends identify, track, page, group and alias through a real SDK to a running kenner, then
// flushes and exits. Usage: node send.js segment|rudderstack URL WRITE_KEY RUN_ID
// The Go test TestSDKs reads the events back through /v1/events and checks their fields.
'use strict';

const [sdk, url, writeKey, run] = process.argv.slice(2);
if (!sdk || !url || !writeKey || !run) {
  console.error('usage: node send.js segment|rudderstack URL WRITE_KEY RUN_ID');
  process.exit(2);
}

const userId = `${sdk}-user-${run}`;
const anonymousId = `${sdk}-anon-${run}`;
const calls = [
  ['identify', { userId, anonymousId, traits: { email: `${run}@example.com`, plan: 'pro', logins: 3 } }],
  ['track', { userId, event: 'Order Completed', properties: { order_id: `o-${run}`, revenue: 42.5, currency: 'EUR', products: [{ sku: 'A', quantity: 2 }] } }],
  ['page', { anonymousId, name: 'Pricing', properties: { url: 'https://example.com/pricing?utm_source=sdk&utm_campaign=test' } }],
  ['group', { userId, groupId: `acme-${run}`, traits: { name: 'Acme', employees: 120 } }],
  ['alias', { userId, previousId: anonymousId }],
];

function fail(err) {
  console.error(`${sdk}: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}

async function segment() {
  const { Analytics } = require('@segment/analytics-node');
  const client = new Analytics({ writeKey, host: url, maxEventsInBatch: 50, flushInterval: 200, maxRetries: 2 });
  let failed = null;
  client.on('error', (err) => { failed = err; });
  for (const [type, msg] of calls) {
    client[type]({ ...msg, messageId: `${sdk}-${type}-${run}` });
  }
  await client.closeAndFlush({ timeout: 20000 });
  if (failed) fail(failed);
}

async function rudderstack() {
  const Analytics = require('@rudderstack/rudder-sdk-node');
  const client = new Analytics(writeKey, { dataPlaneUrl: url, flushAt: 50, flushInterval: 200, retryCount: 1, logLevel: 'error' });
  for (const [type, msg] of calls) {
    client[type]({ ...msg, messageId: `${sdk}-${type}-${run}` });
  }
  await new Promise((resolve, reject) => client.flush((err) => (err ? reject(err) : resolve())));
}

({ segment, rudderstack }[sdk] || (() => fail(`unknown sdk ${sdk}`)))()
  .then(() => { console.log(JSON.stringify({ sdk, userId, anonymousId })); process.exit(0); })
  .catch(fail);
