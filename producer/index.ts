/**
 * The `shoal` entry point: the client an application uses to call a pool.
 * (The worker side is `shoal/worker`.)
 */
export { connect, ShoalClient } from './client.js';
export type { AnyJobs, CallOptions, ConnectOptions, Duration, JobMap, JobName, PayloadOf, ResultOf } from './client.js';
export { CancelledError, PublishError, RemoteJobError, ShoalError, TimeoutError, ValidationError } from '../infra/errors.js';
export { ERROR_CODES, type ErrorCode } from '../infra/error-codes.js';
export { PROTOCOL_VERSION, type Reply, type Timings } from '../infra/protocol.js';
export type { DeliveryStats, TransportKind } from '../infra/transport/types.js';
