// FullStory's official Node SDK (@fullstory/server-api-client 1.1.0) through its whole batch
// job flow against Pipewatch's simulator: create, poll status, imports, errors, restart by
// id, API errors and a rate-limited poll. The SDK reads FS_API_HOST when NODE_ENV is "test".
// Prints one JSON object: what each scenario saw. Run by tests/contract/test_fullstory_node_sdk.py.
'use strict';

const { init } = require('@fullstory/server-api-client');

const POLL = { pollInterval: 150, maxRetry: 3 };
const TIMEOUT_MS = 20000;

function summary(error) {
  return {
    name: error.name,
    status: error.httpStatusCode || null,
    code: (error.fsErrorPayload && error.fsErrorPayload.code) || null,
    retryAfterMs: typeof error.getRetryAfter === 'function' ? error.getRetryAfter() : null,
  };
}

// Runs one job to its end ("done" or "abort") and reports every callback it saw.
function run(job, restartId) {
  return new Promise((resolve) => {
    const seen = { created: null, processing: 0, errors: [], imported: [], failed: [], outcome: null };
    const timer = setTimeout(() => finish('timeout'), TIMEOUT_MS);
    function finish(outcome) {
      if (seen.outcome) return;
      seen.outcome = outcome;
      seen.status = job.getStatus() || null;
      seen.id = job.getId() || null;
      clearTimeout(timer);
      job.stopPolling();
      resolve(seen);
    }
    job
      .on('created', (j) => { seen.created = j.getId(); })
      .on('processing', () => { seen.processing += 1; })
      .on('error', (e) => { seen.errors.push(summary(e)); })
      .on('abort', () => finish('aborted'))
      .on('done', (imported, failed) => {
        seen.imported = imported;
        seen.failed = failed;
        finish('done');
      });
    if (restartId) job.restart(restartId);
    else job.execute();
  });
}

async function main() {
  const fs = init({ apiKey: process.env.FS_KEY, integrationSource: 'pipewatch-contract-test' });
  const wrong = init({ apiKey: 'na1.not-a-key' });
  const events = [];
  for (let i = 0; i < 3; i++) events.push({ name: 'Signed Up', properties: { plan: 'pro', n: i } });
  events.push({ name: 'fail: Checkout', user: { uid: 'u-9' }, timestamp: '2026-11-20T12:00:00Z' });
  const users = [];
  for (let i = 0; i < 130; i++) users.push({ uid: `user-${i}`, email: `user-${i}@example.com` });
  users.push({ display_name: 'Anonymous visitor' });

  const out = {};
  // Events with a failed row: FAILED, then the SDK reads the row errors.
  out.events = await run(fs.events.batchCreate({ body: { requests: events } }, POLL));
  // Users, all good, 131 of them: COMPLETED, then two pages of imports.
  out.users = await run(fs.users.batchCreate({ body: { requests: users }, includeSchema: true }, POLL));
  // A job created elsewhere, followed by id: the seed's job (FAILED, 2 row errors).
  out.restart = await run(fs.events.batchCreate(undefined, POLL), 'abd123=');
  // A job FullStory does not know: 404 on the first poll, not retryable, aborted.
  out.unknown = await run(fs.users.batchCreate(undefined, POLL), 'no-such-job');
  // A key FullStory refuses: 401 on create, aborted.
  out.unauthorized = await run(wrong.events.batchCreate({ body: { requests: events.slice(0, 1) } }, POLL));
  // The first status poll is rate limited (429 + Retry-After): retried, then done.
  out.throttled = await run(fs.users.batchCreate({ body: { requests: users.slice(0, 2) } }, POLL));
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(String((e && e.stack) || e));
  process.exit(1);
});
