/**
 * The dependency check that `npm test` runs (`npm run depcheck`).
 *
 * It keeps the layers apart: the clients (producer/, worker/) know nothing of how the pool is
 * run (dispatcher/), and the adapters (infra/) know none of the three. The raw clients of the
 * outside world (amqplib, dockerode, ioredis) are used only by the adapters under infra/, so
 * product code talks to an adapter. The tests (test/) may use them directly: their helpers
 * check the broker, Redis and the Docker engine behind the product's back, which is the point.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'modules import each other in one direction only (type-only imports included): a cycle means a contract sits in the wrong module',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'clients-do-not-import-the-dispatcher',
      comment: 'producer/ and worker/ must not depend on how the pool is run: shared contracts live in infra/',
      severity: 'error',
      from: { path: '^(producer|worker)/' },
      to: { path: '^dispatcher/' },
    },
    {
      name: 'infra-is-below-the-product',
      comment: 'infra/ holds adapters and shared contracts; it must not import producer/, worker/ or dispatcher/',
      severity: 'error',
      from: { path: '^infra/' },
      to: { path: '^(producer|worker|dispatcher)/' },
    },
    {
      name: 'raw-clients-only-in-infra',
      comment: 'amqplib, dockerode, ioredis and bullmq are used through the adapters under infra/ (tests may use them directly)',
      severity: 'error',
      from: { path: '^(producer|worker|dispatcher)/' },
      to: { path: '^node_modules/(amqplib|dockerode|ioredis|bullmq|@types/(amqplib|dockerode|ioredis))/' },
    },
    {
      name: 'tracing-through-one-module',
      comment: 'OpenTelemetry is used through infra/tracing.ts, and only its API: an SDK is the application\'s choice (the tests register one)',
      severity: 'error',
      from: { path: '^(producer|worker|dispatcher|infra)/', pathNot: '^infra/tracing\\.ts$' },
      to: { path: '(^|/)node_modules/@opentelemetry/' },
    },
    {
      name: 'opentelemetry-api-only',
      comment: 'no OpenTelemetry SDK in the product: without one registered, its spans are no-ops',
      severity: 'error',
      from: { path: '^(producer|worker|dispatcher|infra)/' },
      to: { path: '(^|/)node_modules/@opentelemetry/(?!api/)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // type-only imports count too: a type from amqplib in dispatcher/ is still amqplib outside infra/
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^dist/' },
  },
};
